"""MNN backend of the profile runner (``runner.py`` loads it by path): imports ``MNN`` only.

Runs the ``.mnn`` file (converted from the variant's ``.tflite`` by MNNConvert) with MNN's session API on
the CPU backend, ``numThread`` = the request's threads (1 means one thread: MNN starts no worker thread)
and precision ``normal`` (float32 for a float model). Inputs are host tensors in the model's own dimension
order, copied into the session before each timed run; ``invoke`` is ``runSession`` alone.
"""

import struct

import MNN

PACKAGE = "mnn"
NO_LAYER_PROFILER = "not wired for MNN (its session callbacks could time operators); use OpenVINO or ONNX Runtime"
PRECISION = "normal"  # MNN's float32 (``low`` would allow fp16/bf16 where the CPU has it)
_THREAD_NUMBER = 4  # Interpreter::SessionInfoCode::THREAD_NUMBER
_MEMORY_MB = 0  # Interpreter::SessionInfoCode::MEMORY


def version():
    return MNN.version()


def api(req):
    return "session"


def supports_load(req):
    return True


def open_session(req, np, phases=None, rss_mb=None):
    return _Session(req, np, phases, rss_mb)


def _int_info(value):
    """MNN's Python binding hands integer session infos back as the float with the same bits."""
    return struct.unpack("<i", struct.pack("<f", value))[0] if isinstance(value, float) else int(value)


class _Session:
    def __init__(self, req, np, phases, rss_mb):
        if req["accelerator"] != "cpu":
            raise RuntimeError(f"accelerator '{req['accelerator']}' is not available here: this runner runs MNN "
                               f"{version()} on its CPU backend only")
        self.np = np
        self.ignored = [] if req["xnnpack"] else ["xnnpack"]  # a LiteRT delegate: nothing to turn off here
        self.threads = int(req["threads"])
        self.interpreter = MNN.Interpreter(req["model_path"])
        if phases is not None:
            phases["after_load"] = rss_mb()
        self.session = self.interpreter.createSession(
            {"backend": "CPU", "numThread": self.threads, "precision": PRECISION})
        self.inputs = self.interpreter.getSessionInputAll(self.session)  # name -> tensor, MNN's order (by name)
        self.names = list(self.inputs)
        self.details = []
        for name, tensor in self.inputs.items():
            try:
                data = tensor.getNumpyData()
            except (SystemError, TypeError):  # MNN's binding raises for int8 tensors
                data = None
            if data is None:
                raise ValueError(f"input '{name}' has a type MNN's Python API cannot feed (integer I/O); "
                                 "convert a model with float32 input/output")
            shape = [int(s) if int(s) > 0 else -1 for s in tensor.getShape()]
            self.details.append({"name": name, "shape": shape, "dtype": np.dtype(data.dtype), "quantization": (0.0, 0)})
        self.shapes = None  # the concrete shapes prepared, None until prepare()
        self.host = []

    def input_details(self):
        """Per input, in MNN's order: name, shape as declared (-1 = dynamic), dtype, quantization."""
        return self.details

    def prepare(self, shapes):
        """Resize the inputs to these concrete shapes and allocate (MNN allocated the declared ones already)."""
        shapes = [tuple(int(s) for s in shape) for shape in shapes]
        if len(shapes) != len(self.names):
            raise ValueError(f"the model has {len(self.names)} input(s), {len(shapes)} shape(s) were given")
        current = [tuple(self.inputs[n].getShape()) for n in self.names]
        if shapes != current:
            for name, shape in zip(self.names, shapes, strict=True):
                self.interpreter.resizeTensor(self.inputs[name], shape)
            self.interpreter.resizeSession(self.session)
        self.shapes = shapes
        self.types = [self._halide(d["dtype"]) for d in self.details]
        self.dims = [self.inputs[n].getDimensionType() for n in self.names]

    def _halide(self, dtype):
        np = self.np
        table = {np.dtype("float32"): MNN.Halide_Type_Float, np.dtype("float64"): MNN.Halide_Type_Double,
                 np.dtype("int32"): MNN.Halide_Type_Int, np.dtype("int64"): MNN.Halide_Type_Int64,
                 np.dtype("uint8"): MNN.Halide_Type_Uint8}
        if dtype not in table:
            raise ValueError(f"an input of type {dtype} cannot be fed through MNN's Python API")
        return table[dtype]

    def set_inputs(self, arrays):
        if self.shapes is None:  # used without prepare(): the shapes of the first arrays fed
            self.prepare([a.shape for a in arrays])
        self.host = []
        for name, x, halide, dim in zip(self.names, arrays, self.types, self.dims, strict=True):
            host = MNN.Tensor(tuple(x.shape), halide, self.np.ascontiguousarray(x), dim)
            self.inputs[name].copyFrom(host)
            self.host.append(host)

    def invoke(self):
        self.interpreter.runSession(self.session)

    def facts(self):
        """What MNN says it used: backend, precision, threads (its own session count), its memory plan."""
        return {"ignored_options": self.ignored, "backend": "CPU", "precision": PRECISION,
                "threads_used": _int_info(self.interpreter.getSessionInfo(self.session, _THREAD_NUMBER)),
                "session_memory_mb": round(float(self.interpreter.getSessionInfo(self.session, _MEMORY_MB)), 3),
                "input_shapes": [list(s) for s in (self.shapes or [])]}

    def close(self):
        self.interpreter.releaseSession(self.session) if hasattr(self.interpreter, "releaseSession") else None
        del self.session, self.interpreter, self.inputs, self.host
