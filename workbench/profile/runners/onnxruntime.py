"""ONNX Runtime backend of the profile runner (``runner.py`` loads it by path): imports ``onnxruntime`` only.
Runs the ``.onnx`` file with one execution provider and no silent fallback: CPU, or CUDA / TensorRT when
asked (which fails in one line on a machine without them)."""

import json
import os

import onnxruntime as ort

PACKAGE = "onnxruntime"
LAYER_PROFILER = "ONNX Runtime profiler (kernel_time events of each model_run)"
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


def open_session(req, np, phases=None, rss_mb=None, layer_profiling=False):
    return _Session(req, np, phases, rss_mb, layer_profiling)


class _Session:
    def __init__(self, req, np, phases, rss_mb, layer_profiling=False):
        name = provider(req["accelerator"])
        self.ignored = [] if req["xnnpack"] else ["xnnpack"]  # a LiteRT delegate: nothing to turn off here
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(req["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self.profile_dir = None
        if layer_profiling:  # ONNX Runtime's profiler writes a trace file; read at layer_times()
            import tempfile

            self.profile_dir = tempfile.mkdtemp(prefix="wb-ort-profile-")
            opts.enable_profiling = True
            opts.profile_file_prefix = os.path.join(self.profile_dir, "ort")
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

    def layer_times(self):
        """Node -> (op type, ms) for each run of the session (from the trace of ONNX Runtime's profiler: the
        ``*_kernel_time`` events inside each ``model_run``). Ends the profiling: call it once, last."""
        if self.profile_dir is None:
            return []
        path = self.session.end_profiling()
        with open(path) as f:
            events = json.load(f)
        os.remove(path)
        os.rmdir(self.profile_dir)
        runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
        kernels = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
        out = []
        for run in runs:
            start, end = run["ts"], run["ts"] + run["dur"]
            out.append({k["name"][:-len("_kernel_time")]: (k.get("args", {}).get("op_name", ""), k["dur"] / 1000.0)
                        for k in kernels if start <= k["ts"] <= end})
        return out

    def close(self):
        del self.session, self.feed
