"""OpenVINO backend of the profile runner (``runner.py`` loads it by path): imports ``openvino`` only.
OpenVINO reads the ``.tflite`` (and ``.onnx``) files directly and compiles them for one device: CPU, or
GPU / NPU when asked (which fails in one line on a machine without them)."""

import hashlib

import openvino as ov

PACKAGE = "openvino"
LAYER_PROFILER = "OpenVINO performance counters (PERF_COUNT, real_time of executed nodes)"
DEVICES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU"}
_DECOMPRESS = {"Convert", "Transpose", "Reshape", "Unsqueeze", "Squeeze"}  # between weights and their layer
_PLUMBING = {"Const", "Input", "Output", "Parameter", "Result", "Reshape", "Reorder", "Transpose", "Convert"}


def version():
    return ov.get_version().split("-")[0]


def api(req):
    return "compile_model"


def supports_load(req):
    return True


def open_session(req, np, phases=None, rss_mb=None, layer_profiling=False):
    return _Session(req, np, phases, rss_mb, layer_profiling)


def _name(port, k):
    try:
        return port.get_any_name()
    except RuntimeError:  # an unnamed input: its index
        return str(k)


def _tensor_names(op):
    """The names of the tensors ``op`` outputs (for a .tflite read by OpenVINO: the flatbuffer's tensor names)."""
    return sorted({n for out in op.outputs() for n in out.get_names()})


def _weights(op, np):
    """A digest of each constant input of ``op`` with 16 values or more (its weights), order-free: SHA-1 of the
    sorted float32 values, so a kernel OpenVINO transposed still reads as the source file's tensor."""
    out = []
    for port in op.inputs():
        src = port.get_source_output().get_node()
        while src.get_type_name() in _DECOMPRESS and src.get_input_size():  # fp16 weights: Constant -> Convert
            src = src.input_value(0).get_node()
        if src.get_type_name() == "Constant" and int(np.prod(list(src.get_output_shape(0)))) >= 16:
            values = np.sort(np.asarray(src.get_data(), dtype=np.float32).ravel())
            out.append(hashlib.sha1(values.tobytes()).hexdigest()[:16])
    return out


def _sources(op, fused, source_ops, np):
    """What an executed node computes of the source graph: the tensors it outputs there (its own output's names
    when the compiled graph kept them, else those of the source layers it fused, last listed first), and the
    digests of the source layers' weights (``_weights``): for a .tflite, the weights name the op they belong to
    when OpenVINO's own renaming (``Convolution_8044``) and layout changes left no tensor name."""
    tensors, weights = _tensor_names(op), []
    for layer in [x for x in fused.split(",") if x][::-1]:
        src = source_ops.get(layer)
        if src is not None:
            tensors += [t for t in _tensor_names(src) if t not in tensors]
            weights += [w for w in _weights(src, np) if w not in weights]
    return {k: v for k, v in (("tensors", tensors), ("weights", weights)) if v}


class _Session:
    def __init__(self, req, np, phases, rss_mb, layer_profiling=False):
        core = ov.Core()
        self.ignored = [] if req["xnnpack"] else ["xnnpack"]  # a LiteRT delegate: nothing to turn off here
        device = DEVICES[req["accelerator"]]
        if device not in core.available_devices:
            raise RuntimeError(f"accelerator '{req['accelerator']}' is not available here: OpenVINO "
                               f"{version()} sees no {device} device (available: {', '.join(core.available_devices)})")
        self.core, self.device, self.np = core, device, np
        self.model = core.read_model(req["model_path"])
        if phases is not None:
            phases["after_load"] = rss_mb()
        self.details = []
        for k, port in enumerate(self.model.inputs):
            shape = port.get_partial_shape()
            if shape.rank.is_dynamic:
                raise ValueError(f"input {k} has a dynamic rank, which this runner cannot shape")
            self.details.append({"name": _name(port, k), "dtype": np.dtype(port.get_element_type().to_dtype()),
                                 "shape": [d.get_length() if d.is_static else -1 for d in shape],
                                 "quantization": (0.0, 0)})
        self.config = {"INFERENCE_NUM_THREADS": int(req["threads"]), "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        self.profiled = []  # per run: {node: (type, ms)} from the performance counters (layer profiling only)
        if layer_profiling:
            self.config["PERF_COUNT"] = True

    def input_details(self):
        return self.details

    def prepare(self, shapes):
        """Reshape to the concrete shapes (static shapes compile to faster kernels), then compile."""
        self.model.reshape({k: ov.PartialShape(list(s)) for k, s in enumerate(shapes)})
        source_ops = {}  # the source graph's layers by name, which the compiled nodes list as fused into them
        if "PERF_COUNT" in self.config:
            source_ops = {op.get_friendly_name(): op for op in self.model.get_ordered_ops()}
        self.compiled = self.core.compile_model(self.model, self.device, self.config)
        del self.model
        self.request = self.compiled.create_infer_request()
        self.tensors = [self.request.get_input_tensor(k) for k in range(len(self.details))]
        self.invoke = self._infer_counted if "PERF_COUNT" in self.config else self.request.infer
        if "PERF_COUNT" in self.config:  # a fused node names the source layers it runs, and what it computes
            self.original, self.sources = {}, {}
            for op in self.compiled.get_runtime_model().get_ordered_ops():
                info = op.get_rt_info()
                name = op.get_friendly_name()
                fused = info["originalLayersNames"].astype(str) if "originalLayersNames" in info else ""
                if fused:
                    self.original[name] = fused
                self.sources[name] = _sources(op, fused, source_ops, self.np)
            del source_ops

    def _infer_counted(self):
        """Infer, then this run's time per node. The CPU plugin's counters hold each node's MEAN over every
        inference since compilation (checked: 6.733, 3.452, 2.351 ms = running means of 6.733, 0.171, 0.150),
        so a run's time is the growth of mean x count (microsecond resolution: +-0.5 us x count)."""
        self.request.infer()
        self.runs = getattr(self, "runs", 0) + 1
        totals = getattr(self, "totals", {})
        run = {}
        for p in self.request.get_profiling_info():
            if p.status == p.Status.EXECUTED:
                total = p.real_time.total_seconds() * 1000.0 * self.runs
                run[p.node_name] = (p.node_type, max(0.0, total - totals.get(p.node_name, 0.0)))
                totals[p.node_name] = total
        self.totals = totals
        self.profiled.append(run)

    def node_sources(self):
        """Node (named as ``layer_times`` names it) -> what it computes of the source graph (``_sources``)."""
        names = getattr(self, "original", {})
        return {(f"{n} [{names[n]}]" if names.get(n) else n): v for n, v in getattr(self, "sources", {}).items() if v}

    def layer_times(self):
        """The executed nodes' times of each run since the last call (OpenVINO's performance counters):
        node -> (type, ms), the node named by the compiled graph with the source layers it runs."""
        runs, self.profiled = self.profiled, []
        names = getattr(self, "original", {})
        return [{(f"{n} [{names[n]}]" if names.get(n) else n): v for n, v in run.items()} for run in runs]

    def set_inputs(self, arrays):
        for tensor, x in zip(self.tensors, arrays, strict=True):
            tensor.data[...] = x

    def facts(self):
        """The precision OpenVINO computes in (its default may be bf16 on CPUs that have it), and the
        precision each compute layer of the compiled graph runs in (e.g. ``Convolution:u8`` for int8)."""
        precisions = {}
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer = info["layerType"].astype(str) if "layerType" in info else ""
            if layer and layer not in _PLUMBING and "runtimePrecision" in info:
                key = f"{layer}:{info['runtimePrecision'].astype(str)}"
                precisions[key] = precisions.get(key, 0) + 1
        return {"ignored_options": self.ignored,
                "inference_precision": self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string(),
                "runtime_precisions": precisions}

    def close(self):
        del self.request, self.compiled, self.tensors, self.invoke
