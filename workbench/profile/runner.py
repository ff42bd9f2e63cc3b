"""On-target profiling runner. Runs as a script in a fresh process, on this machine or a remote device.

It imports only the standard library, NumPy and the LiteRT runtime: the caller's TensorFlow must not
inflate memory or steal cores. Usage: ``python runner.py REQUEST.json``; writes the JSON result to the
request's ``output`` path (atomically), or to stdout when ``output`` is empty. Exit 0 on success, 1 on
a reported error (the JSON then has ``error`` and ``traceback``).

The request carries every field in ``REQUEST_FIELDS`` (``workbench.profile.request.ProfileRequest``
writes them all); this script has no defaults of its own, so a missing field is a reported error.
"""

import json
import os
import platform
import sys
import time
import traceback

_T0 = time.perf_counter()

#: the fields of workbench.profile.request.ProfileRequest (this script cannot import workbench)
REQUEST_FIELDS = ("model_path", "input_path", "output", "threads", "api", "xnnpack", "kernels", "batch",
                  "input_source", "warmup_runs", "min_runs", "min_seconds", "max_runs", "max_seconds",
                  "cpu_pin", "clients", "load_seconds")


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _rss_mb():
    return _status_kb("VmRSS") / 1024.0


def _reset_peak():
    """Reset the kernel's peak-RSS mark (VmHWM) so later peaks exclude import-time spikes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fingerprint():
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "hostname": platform.node(), "machine": platform.machine(), "system": platform.system(),
        "release": platform.release(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
        "loadavg_1m": load[0], "python": platform.python_version(),
    }


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


def _input_arrays(interp_inputs, req, np):
    """One array per input tensor, holding real samples (cycled) or random data of the right dtype."""
    batch = int(req["batch"])
    samples = None
    if req["input_source"] == "test" and req["input_path"]:
        samples = np.load(req["input_path"], allow_pickle=False)
    rng = np.random.default_rng(0)
    arrays = []
    for k, d in enumerate(interp_inputs):
        shape = [batch] + [int(s) for s in d["shape"][1:]]
        dtype = np.dtype(d["dtype"])
        if samples is not None and k == 0 and list(samples.shape[1:]) == shape[1:]:
            x = samples.astype(np.float32)
            if dtype.kind != "f":
                scale, zp = d["quantization"]
                info = np.iinfo(dtype)
                x = np.clip(np.round(x / scale + zp), info.min, info.max)
            x = x.astype(dtype)
            n = max(1, len(x) // batch)
            arrays.append([x[i * batch:(i + 1) * batch] for i in range(n)] if len(x) >= batch
                          else [np.resize(x, shape).astype(dtype)])
        elif dtype.kind == "f":
            arrays.append([rng.standard_normal(shape).astype(dtype) for _ in range(4)])
        else:
            info = np.iinfo(dtype)
            arrays.append([rng.integers(info.min, info.max, size=shape, dtype=dtype) for _ in range(4)])
    used = "test" if samples is not None and arrays and len(arrays[0]) > 0 and req["input_source"] == "test" else "random"
    return arrays, used


def _time_loop(invoke, set_inputs, req):
    """Warm up, then time until min runs AND min seconds are met, capped by max runs OR max seconds."""
    for i in range(int(req["warmup_runs"])):
        set_inputs(i)
        invoke()
    samples = []
    min_runs, max_runs = int(req["min_runs"]), int(req["max_runs"])
    min_s, max_s = float(req["min_seconds"]), float(req["max_seconds"])
    start = time.perf_counter()
    perf_ns = time.perf_counter_ns
    while True:
        set_inputs(len(samples))
        t = perf_ns()
        invoke()
        samples.append((perf_ns() - t) / 1e6)
        elapsed = time.perf_counter() - start
        if len(samples) >= max_runs or elapsed >= max_s:
            break
        if len(samples) >= min_runs and elapsed >= min_s:
            break
    return samples, time.perf_counter() - start


def _make_interpreter(req):
    from ai_edge_litert import interpreter as litert

    if req["kernels"] == "reference":
        resolver = litert.OpResolverType.BUILTIN_REF
    elif req["xnnpack"]:
        resolver = litert.OpResolverType.AUTO
    else:
        resolver = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return litert.Interpreter(model_path=req["model_path"], num_threads=int(req["threads"]),
                              experimental_op_resolver_type=resolver)


def _allocate(interp, req):
    batch = int(req["batch"])
    if batch != 1:
        for d in interp.get_input_details():
            interp.resize_tensor_input(d["index"], [batch] + [int(s) for s in d["shape"][1:]])
    interp.allocate_tensors()


def _profile_load(req, np):
    """The service case: N client threads, each with its own interpreter, invoke for T seconds."""
    import threading

    clients, seconds = int(req["clients"]), float(req["load_seconds"])
    interps = []
    for _ in range(clients):
        it = _make_interpreter(req)
        _allocate(it, req)
        interps.append(it)
    samples = [[] for _ in range(clients)]
    errors = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k):
        it = interps[k]
        details = it.get_input_details()
        arrays, _ = _input_arrays(details, req, np)
        start_gate.wait()
        i = 0
        while time.perf_counter() < stop_at[0]:
            try:
                for d, options in zip(details, arrays, strict=True):
                    it.set_tensor(d["index"], options[i % len(options)])
                t = time.perf_counter_ns()
                it.invoke()
                samples[k].append((time.perf_counter_ns() - t) / 1e6)
            except Exception:
                errors[k] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start_gate.wait()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    flat = [x for per in samples for x in per]
    return {"clients": clients, "seconds": elapsed, "invokes": len(flat), "errors": sum(errors),
            "throughput_ips": len(flat) * int(req["batch"]) / elapsed if elapsed > 0 else 0.0,
            "per_client_invokes": [len(per) for per in samples], "samples_ms": flat,
            "peak_mb": _status_kb("VmHWM") / 1024.0}


def _profile_interpreter(req, np, phases):
    t = time.perf_counter()
    interp = _make_interpreter(req)
    phases["after_load"] = _rss_mb()
    _allocate(interp, req)
    init_ms = (time.perf_counter() - t) * 1000
    phases["after_allocate"] = _rss_mb()
    details = interp.get_input_details()
    arrays, used = _input_arrays(details, req, np)

    def set_inputs(i):
        for d, options in zip(details, arrays, strict=True):
            interp.set_tensor(d["index"], options[i % len(options)])

    samples, loop_s = _time_loop(interp.invoke, set_inputs, req)
    details_ops = interp._get_ops_details()
    delegated, fallback = delegation(details_ops)
    ops = [op["op_name"] for op in details_ops]
    return init_ms, samples, loop_s, used, {"ops": ops, "op_count": len(ops), "delegated_ops": delegated,
                                            "fallback_ops": fallback}


def _profile_compiled(req, np, phases):
    from ai_edge_litert.compiled_model import CompiledModel

    t = time.perf_counter()
    model = CompiledModel.from_file(req["model_path"])
    phases["after_load"] = _rss_mb()
    sig = 0
    inputs = model.create_input_buffers(sig)
    outputs = model.create_output_buffers(sig)
    init_ms = (time.perf_counter() - t) * 1000
    phases["after_allocate"] = _rss_mb()
    sig_key = list(model.get_signature_list())[sig]
    details = []
    for d in model.get_input_tensor_details(sig_key).values():  # real shapes and dtypes from the model
        details.append({"shape": [int(x) for x in d["shape"]], "dtype": np.dtype(d["dtype"]), "quantization": (0.0, 0)})
        if np.dtype(d["dtype"]).kind != "f" and req["input_source"] == "test":
            raise ValueError("compiled_model API: test inputs for integer-input models are not supported; "
                             "use --inputs none (random) or the interpreter API")
    if int(req["batch"]) != 1:
        raise ValueError("compiled_model API: batch != 1 is not supported by this runner; use the interpreter API")
    arrays, used = _input_arrays(details, req, np)

    def set_inputs(i):
        for buf, options in zip(inputs, arrays, strict=True):
            buf.write(options[i % len(options)].reshape(-1))

    samples, loop_s = _time_loop(lambda: model.run_by_index(sig, inputs, outputs), set_inputs, req)
    # this runner creates the compiled model with LiteRT's default CPU options: say so, don't pretend
    return init_ms, samples, loop_s, used, {"ignored_options": ["threads", "xnnpack"]}


def _check_request(req):
    """The request must carry exactly REQUEST_FIELDS: this script has no defaults to fall back on."""
    missing = [k for k in REQUEST_FIELDS if k not in req]
    unknown = sorted(set(req) - set(REQUEST_FIELDS))
    problems = []
    if missing:
        problems.append(f"is missing field(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"has unknown field(s): {', '.join(unknown)}")
    if problems:
        raise ValueError("the request " + "; ".join(problems))


def main(argv):
    req = json.loads(open(argv[1]).read()) if len(argv) > 1 and argv[1] != "-" else json.load(sys.stdin)
    out_path = req["output"] if "output" in req else ""  # no path: the error below is reported on stdout
    result = {"request": {k: v for k, v in req.items() if k != "output"}}
    try:
        _check_request(req)
        if req["cpu_pin"]:
            os.sched_setaffinity(0, set(int(c) for c in req["cpu_pin"]))
        import ai_edge_litert
        import numpy as np

        phases = {"baseline": _rss_mb()}
        result["peak_reset"] = _reset_peak()
        api = req["api"]
        if api == "compiled_model":
            init_ms, samples, loop_s, used, extra = _profile_compiled(req, np, phases)
        else:
            init_ms, samples, loop_s, used, extra = _profile_interpreter(req, np, phases)
        phases["peak"] = _status_kb("VmHWM") / 1024.0
        phases["after_release"] = _rss_mb()  # the interpreter has been freed by now
        if api == "interpreter" and float(req["load_seconds"]) > 0:
            result["load"] = _profile_load(req, np)  # after the single-stream phases: peaks stay separate
        batch = int(req["batch"])
        result.update({
            "samples_ms": samples, "init_ms": init_ms, "loop_seconds": loop_s,
            "throughput_ips": len(samples) * batch / loop_s if loop_s > 0 else 0.0,
            "memory_mb": phases, "input_source_used": used,
            "runtime": {"package": "ai-edge-litert", "version": getattr(ai_edge_litert, "__version__", "unknown"),
                        "api": api},
            "tensorflow_imported": any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules),
            "device": _fingerprint(), "affinity": sorted(os.sched_getaffinity(0)),
            "startup_s": time.perf_counter() - _T0, **extra,
        })
        code = 0
    except BaseException as exc:  # report everything, including KeyboardInterrupt, to the parent
        result["error"] = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        result["traceback"] = traceback.format_exc()
        sys.stderr.write(result["error"] + "\n")  # also there for a parent that never sees the JSON
        code = 1
    text = json.dumps(result)
    if out_path:
        tmp = out_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, out_path)
    else:
        sys.stdout.write(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
