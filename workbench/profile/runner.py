"""On-target profiling runner. Runs as a script in a fresh process, on this machine or a remote device.

It imports only the standard library, NumPy and ONE runtime: the caller's TensorFlow must not inflate
memory or steal cores. The protocol (warm-up, the timed loop, memory by phase, inputs, the load scenario,
the device fingerprint, the JSON result) is here, once; what differs per runtime (load a model, feed it,
run it, say what it did) is a small backend in ``runners/<runtime>.py`` beside this file, loaded by path
(one per runtime of ``workbench.catalog.runtimes``; this script finds them by file).

Usage: ``python runner.py REQUEST.json``; writes the JSON result to the request's ``output`` path
(atomically), or to stdout when ``output`` is empty. Exit 0 on success, 1 on a reported error (the JSON
then has ``error`` and ``traceback``).

The request carries every field in ``REQUEST_FIELDS`` (``workbench.profile.request.ProfileRequest``
writes them all); this script has no defaults of its own, so a missing field is a reported error.
"""

import importlib.util
import json
import os
import platform
import sys
import time
import traceback

_T0 = time.perf_counter()

#: the fields of workbench.profile.request.ProfileRequest (this script cannot import workbench)
REQUEST_FIELDS = ("model_path", "input_path", "output", "runtime", "accelerator", "threads", "api", "xnnpack",
                  "kernels", "batch", "input_source", "warmup_runs", "min_runs", "min_seconds", "max_runs",
                  "max_seconds", "cpu_pin", "clients", "load_seconds")
BACKEND_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runners")
#: the runtimes with a backend here: runners/<name>.py (a unit test checks they are the catalogue's runtimes)
RUNTIMES = tuple(sorted(f[:-3] for f in (os.listdir(BACKEND_DIR) if os.path.isdir(BACKEND_DIR) else ())
                        if f.endswith(".py") and not f.startswith("_")))


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


def load_backend(runtime):
    """The backend module of ``runtime`` (``runners/<runtime>.py``), loaded by path under a private name so
    that it never shadows the runtime's own package."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}'; this runner knows: {', '.join(RUNTIMES)}")
    spec = importlib.util.spec_from_file_location(f"wb_backend_{runtime}", os.path.join(BACKEND_DIR, f"{runtime}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _input_arrays(details, req, np):
    """One list of arrays per model input, holding real samples (cycled) or random data of the right dtype.
    ``details``: per input, {"shape", "dtype", "quantization": (scale, zero_point)} as the backend reports."""
    batch = int(req["batch"])
    samples = None
    if req["input_source"] == "test" and req["input_path"]:
        samples = np.load(req["input_path"], allow_pickle=False)
    rng = np.random.default_rng(0)
    arrays = []
    for k, d in enumerate(details):
        shape = [batch] + [int(s) for s in d["shape"][1:]]
        dtype = np.dtype(d["dtype"])
        scale_known = dtype.kind == "f" or bool(d["quantization"][0])  # OpenVINO keeps int8 I/O, not its scale
        if samples is not None and k == 0 and scale_known:  # real samples must fit: never a silent fall-back
            fits = samples.ndim == len(shape) and all(shape[i] <= 0 or shape[i] == samples.shape[i]
                                                      for i in range(1, len(shape)))
            if not fits:
                want = ", ".join(str(m) if m > 0 else "?" for m in shape[1:])
                raise ValueError(f"the input samples have shape {tuple(samples.shape)} but the model's input "
                                 f"'{d.get('name', 0)}' is {[int(s) for s in d['shape']]} ({dtype.name}): "
                                 f"expected (N, {want})")
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
    first_known = bool(details) and (np.dtype(details[0]["dtype"]).kind == "f" or bool(details[0]["quantization"][0]))
    used = "test" if samples is not None and first_known and req["input_source"] == "test" else "random"
    return arrays, used


def _feed(session, arrays, i):
    """Set every input of ``session`` to its i-th sample (cycled)."""
    session.set_inputs([options[i % len(options)] for options in arrays])


def _time_loop(session, arrays, req):
    """Warm up, then time until min runs AND min seconds are met, capped by max runs OR max seconds."""
    for i in range(int(req["warmup_runs"])):
        _feed(session, arrays, i)
        session.invoke()
    samples = []
    min_runs, max_runs = int(req["min_runs"]), int(req["max_runs"])
    min_s, max_s = float(req["min_seconds"]), float(req["max_seconds"])
    start = time.perf_counter()
    perf_ns = time.perf_counter_ns
    invoke = session.invoke
    while True:
        _feed(session, arrays, len(samples))
        t = perf_ns()
        invoke()
        samples.append((perf_ns() - t) / 1e6)
        elapsed = time.perf_counter() - start
        if len(samples) >= max_runs or elapsed >= max_s:
            break
        if len(samples) >= min_runs and elapsed >= min_s:
            break
    return samples, time.perf_counter() - start


def _profile_load(backend, req, np):
    """The service case: N client threads, each with its own session, invoke for T seconds."""
    import threading

    clients, seconds = int(req["clients"]), float(req["load_seconds"])
    sessions = [backend.open_session(req, np) for _ in range(clients)]
    samples = [[] for _ in range(clients)]
    errors = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k):
        session = sessions[k]
        arrays, _ = _input_arrays(session.input_details(), req, np)
        start_gate.wait()
        i = 0
        while time.perf_counter() < stop_at[0]:
            try:
                _feed(session, arrays, i)
                t = time.perf_counter_ns()
                session.invoke()
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


def _profile_single(backend, req, np, phases):
    """Load (+ allocate / compile), then the timed loop; the session is freed before returning."""
    t = time.perf_counter()
    session = backend.open_session(req, np, phases=phases, rss_mb=_rss_mb)
    init_ms = (time.perf_counter() - t) * 1000
    phases["after_allocate"] = _rss_mb()
    arrays, used = _input_arrays(session.input_details(), req, np)
    samples, loop_s = _time_loop(session, arrays, req)
    extra = session.facts()
    session.close()
    return init_ms, samples, loop_s, used, extra


def _reason(exc):
    """One line saying what went wrong: the first line, or for OpenVINO's messages (source locations
    first, "Exception from src/..."), the last line, which carries the reason."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith("Exception from ")]
    if not lines:
        return ""
    return useful[-1] if useful and lines[0].startswith("Exception from ") else lines[0]


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
        backend = load_backend(req["runtime"])  # imports that one runtime (and NumPy), nothing else
        import numpy as np

        phases = {"baseline": _rss_mb()}
        result["peak_reset"] = _reset_peak()
        init_ms, samples, loop_s, used, extra = _profile_single(backend, req, np, phases)
        phases["peak"] = _status_kb("VmHWM") / 1024.0
        phases["after_release"] = _rss_mb()  # the session has been freed by now
        if float(req["load_seconds"]) > 0 and backend.supports_load(req):
            result["load"] = _profile_load(backend, req, np)  # after the single-stream phases: peaks stay separate
        batch = int(req["batch"])
        result.update({
            "samples_ms": samples, "init_ms": init_ms, "loop_seconds": loop_s,
            "throughput_ips": len(samples) * batch / loop_s if loop_s > 0 else 0.0,
            "memory_mb": phases, "input_source_used": used,
            "runtime": {"package": backend.PACKAGE, "version": backend.version(), "api": backend.api(req)},
            "tensorflow_imported": any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules),
            "device": _fingerprint(), "affinity": sorted(os.sched_getaffinity(0)),
            "startup_s": time.perf_counter() - _T0, **extra,
        })
        code = 0
    except BaseException as exc:  # report everything, including KeyboardInterrupt, to the parent
        result["error"] = f"{type(exc).__name__}: {_reason(exc)}"
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
