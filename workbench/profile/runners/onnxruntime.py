"""ONNX Runtime backend of the profile runner (``runner.py`` loads it by path): imports ``onnxruntime`` only.
Runs the ``.onnx`` file with one execution provider and no silent fallback: CPU, or CUDA / TensorRT when
asked (which fails in one line on a machine without them)."""

import onnxruntime as ort

PACKAGE = "onnxruntime"
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
_DTYPES = {"tensor(bool)": "bool", "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
           "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int16)": "int16", "tensor(int32)": "int32",
           "tensor(int64)": "int64",
           "tensor(uint16)": "uint16", "tensor(uint32)": "uint32", "tensor(uint64)": "uint64"}


def version():
    return ort.__version__


def api(req):
    return "inference_session"


def supports_load(req):
    return True


def provider(accelerator):
    """The execution provider for ``accelerator``; RuntimeError in one line when this build lacks it."""
    name = PROVIDERS[accelerator]
    available = ort.get_available_providers()
    if name not in available:
        raise RuntimeError(f"accelerator '{accelerator}' is not available here: ONNX Runtime {ort.__version__} has "
                           f"no {name} (available: {', '.join(available)}); it needs onnxruntime-gpu and an NVIDIA GPU")
    return name


def open_session(req, np, phases=None, rss_mb=None):
    return _Session(req, np, phases, rss_mb)


class _Session:
    def __init__(self, req, np, phases, rss_mb):
        name = provider(req["accelerator"])
        self.ignored = [] if req["xnnpack"] else ["xnnpack"]  # a LiteRT delegate: nothing to turn off here
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(req["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(req["model_path"], sess_options=opts, providers=[name])
        if phases is not None:
            phases["after_load"] = rss_mb()  # ONNX Runtime reads, optimizes and allocates in one call
        used = self.session.get_providers()
        if used[0] != name:
            raise RuntimeError(f"accelerator '{req['accelerator']}' is not available here: ONNX Runtime fell back "
                               f"to {used[0]}")
        self.names = [i.name for i in self.session.get_inputs()]
        self.details = []
        for i in self.session.get_inputs():
            if i.type not in _DTYPES:
                raise ValueError(f"input '{i.name}' has type {i.type}, which this runner cannot feed")
            shape = [int(s) if isinstance(s, int) and s >= 0 else -1 for s in i.shape]  # a name or None: dynamic
            self.details.append({"name": i.name, "shape": shape, "dtype": np.dtype(_DTYPES[i.type]),
                                 "quantization": (0.0, 0)})
        self.feed = {}
        self.providers = used

    def input_details(self):
        return self.details

    def prepare(self, shapes):
        """Nothing to resize: ONNX Runtime takes the shapes of the arrays fed (and allocates on the first run)."""

    def set_inputs(self, arrays):
        self.feed = dict(zip(self.names, arrays, strict=True))

    def invoke(self):
        self.session.run(None, self.feed)

    def facts(self):
        return {"ignored_options": self.ignored, "providers": self.providers}

    def close(self):
        del self.session, self.feed
