"""LiteRT backend of the profile runner (``runner.py`` loads it by path): imports ``ai_edge_litert`` only. Two APIs: the Interpreter (threads, XNNPACK on/off, reference kernels, op
placement) and the CompiledModel (LiteRT's newer API; its CPU/GPU/NPU accelerators)."""

import ai_edge_litert

PACKAGE = "ai-edge-litert"
NO_LAYER_PROFILER = ("LiteRT's Python API times no single operator (its op profiler is in the benchmark_model tool, "
                     "--enable_op_profiling); per-layer cost comes from OpenVINO or ONNX Runtime")
_ACCELERATOR_NAMES = {"gpu": "GPU", "npu": "NPU"}


def version():
    return getattr(ai_edge_litert, "__version__", "unknown")


def api(req):
    return req["api"]


def supports_load(req):
    return req["api"] == "interpreter"


def open_session(req, np, phases=None, rss_mb=None):
    """The loaded model; ``prepare(shapes)`` then sizes and allocates it (the runner's backend contract)."""
    if req["api"] == "compiled_model":
        return _Compiled(req, np, phases, rss_mb)
    return _Interpreter(req, np, phases, rss_mb)


def delegation(ops):
    """Split op details into (delegated, fallback) op names. A DELEGATE node replaces the partition of
    nodes between its inputs and outputs: walk back from its outputs to its inputs; the nodes visited
    were delegated, every other (non-DELEGATE) node runs on the runtime's builtin kernels."""
    producer = {}
    for op in ops:
        if op["op_name"] == "DELEGATE":
            continue  # a delegate node "produces" its partition's outputs too; the real producer matters
        for t in op["outputs"]:
            producer[int(t)] = op
    delegated_idx = set()
    for d in (op for op in ops if op["op_name"] == "DELEGATE"):
        stop = set(int(t) for t in d["inputs"])
        todo = [int(t) for t in d["outputs"]]
        while todo:
            t = todo.pop()
            op = producer.get(t)
            if t in stop or op is None or op["index"] in delegated_idx:
                continue
            delegated_idx.add(op["index"])
            todo.extend(int(x) for x in op["inputs"] if int(x) >= 0)
    real = [op for op in ops if op["op_name"] != "DELEGATE"]
    return ([op["op_name"] for op in real if op["index"] in delegated_idx],
            [op["op_name"] for op in real if op["index"] not in delegated_idx])


class _Interpreter:
    def __init__(self, req, np, phases, rss_mb):
        from ai_edge_litert import interpreter as litert

        if req["kernels"] == "reference":
            resolver = litert.OpResolverType.BUILTIN_REF
        elif req["xnnpack"]:
            resolver = litert.OpResolverType.AUTO
        else:
            resolver = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interp = litert.Interpreter(model_path=req["model_path"], num_threads=int(req["threads"]),
                                         experimental_op_resolver_type=resolver)
        if phases is not None:
            phases["after_load"] = rss_mb()
        self.details = self.interp.get_input_details()
        self.declared = [{"name": d["name"], "dtype": np.dtype(d["dtype"]),
                          "shape": [int(s) for s in d.get("shape_signature", d["shape"])],  # -1 = dynamic
                          "quantization": (float(d["quantization"][0]), int(d["quantization"][1]))}
                         for d in self.details]
        self.invoke = self.interp.invoke

    def input_details(self):
        return self.declared

    def prepare(self, shapes):
        for d, shape in zip(self.details, shapes, strict=True):
            if [int(s) for s in d["shape"]] != list(shape):
                self.interp.resize_tensor_input(d["index"], list(shape), strict=True)
        self.interp.allocate_tensors()
        self.details = self.interp.get_input_details()

    def set_inputs(self, arrays):
        for d, x in zip(self.details, arrays, strict=True):
            self.interp.set_tensor(d["index"], x)

    def facts(self):
        ops_details = self.interp._get_ops_details()
        delegated, fallback = delegation(ops_details)
        ops = [op["op_name"] for op in ops_details]
        return {"ops": ops, "op_count": len(ops), "delegated_ops": delegated, "fallback_ops": fallback}

    def close(self):
        del self.interp, self.invoke


class _Compiled:
    def __init__(self, req, np, phases, rss_mb):
        from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator

        accelerator = req["accelerator"]
        if accelerator == "cpu":
            self.model = CompiledModel.from_file(req["model_path"])
        else:
            try:  # no CPU fallback: a model that silently ran on the CPU would be measured under a false name
                self.model = CompiledModel.from_file(
                    req["model_path"], hardware_accel=getattr(HardwareAccelerator, _ACCELERATOR_NAMES[accelerator]))
            except RuntimeError as exc:
                lines = [ln.strip(" └") for ln in str(exc).splitlines()]
                last = [ln for ln in lines if ln and not (ln.startswith("ERROR: [") and ln.endswith("]"))][-1:]
                detail = f" ({last[0]})" if last else ""
                raise RuntimeError(f"accelerator '{accelerator}' is not available here: LiteRT could not place the "
                                   f"model on the {accelerator.upper()}{detail}") from None
        if phases is not None:
            phases["after_load"] = rss_mb()
        self.sig = 0
        sig_key = list(self.model.get_signature_list())[self.sig]
        self.details = []
        for name, d in self.model.get_input_tensor_details(sig_key).items():  # real shapes and dtypes
            self.details.append({"name": name, "shape": [int(x) for x in d["shape"]], "dtype": np.dtype(d["dtype"]),
                                 "quantization": (0.0, 0)})
            if np.dtype(d["dtype"]).kind != "f" and req["input_source"] == "test":
                raise ValueError("compiled_model API: test inputs for integer-input models are not supported; "
                                 "use --inputs none (random) or the interpreter API")

    def input_details(self):
        return self.details

    def prepare(self, shapes):
        if [d["shape"] for d in self.details] != [list(s) for s in shapes]:
            raise ValueError("compiled_model API: this runner feeds the model's own shapes only "
                             f"({[d['shape'] for d in self.details]}); use the interpreter API to resize inputs")
        self.inputs = self.model.create_input_buffers(self.sig)
        self.outputs = self.model.create_output_buffers(self.sig)

    def set_inputs(self, arrays):
        for buf, x in zip(self.inputs, arrays, strict=True):
            buf.write(x.reshape(-1))

    def invoke(self):
        self.model.run_by_index(self.sig, self.inputs, self.outputs)

    def facts(self):
        # this runner creates the compiled model with LiteRT's default CPU options: say so, don't pretend
        return {"ignored_options": ["threads", "xnnpack"]}

    def close(self):
        del self.model, self.inputs, self.outputs
