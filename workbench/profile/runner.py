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
import re
import sys
import time
import traceback

_T0 = time.perf_counter()

#: the fields of workbench.profile.request.ProfileRequest (this script cannot import workbench)
REQUEST_FIELDS = ("model_path", "input_path", "output", "runtime", "accelerator", "threads", "api", "xnnpack",
                  "kernels", "batch", "input_shapes", "input_source", "warmup_runs", "min_runs", "min_seconds", "max_runs",
                  "max_seconds", "cpu_pin", "clients", "load_seconds", "layer_runs")
#: distinct input feeds kept per input: enough to vary the data, never the whole test set in memory
MAX_SAMPLE_BUFFERS = 8
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


class InputError(ValueError):
    """The inputs asked for do not fit the model: the user's to fix (the parent exits 2 with this one line)."""


def _fmt(shape):
    return "[" + ",".join("?" if int(d) < 0 else str(int(d)) for d in shape) + "]"


def _dims(shape):
    return "x".join(str(int(d)) for d in shape) or "a scalar"


def resolve_shapes(details, req):
    """The concrete shape of every input. Fixed dims stay as declared; a dynamic dim comes from
    ``input_shapes``; a dynamic FIRST dim without one takes ``batch``. InputError names every input it
    cannot resolve, an unknown name, a shape that contradicts a fixed dim, or a batch nothing took."""
    given = {str(k): [int(d) for d in v] for k, v in req["input_shapes"].items()}
    batch = int(req["batch"])
    listing = ", ".join(f"'{d['name']}' {_fmt(d['shape'])}" for d in details)
    unknown = sorted(set(given) - {d["name"] for d in details})
    if unknown:
        raise InputError(f"--input-shape names {', '.join(repr(u) for u in unknown)}, which the model does not "
                         f"have; its inputs: {listing}")
    shapes, missing, wrong, batched = [], [], [], False
    for d in details:
        declared = [int(s) for s in d["shape"]]
        if d["name"] in given:
            shape = given[d["name"]]
            if len(shape) != len(declared) or any(s >= 0 and s != g for s, g in zip(declared, shape, strict=False)):
                wrong.append(f"input '{d['name']}' is {_fmt(declared)}, not {_dims(shape)} (fixed dimensions never change)")
        else:
            batched = batched or (bool(declared) and declared[0] < 0)
            shape = [batch if i == 0 and s < 0 else s for i, s in enumerate(declared)]
            if any(s < 0 for s in shape):
                missing.append((d["name"], declared, shape))
        shapes.append(shape)
    if batch != 1 and not batched and not wrong and not missing:
        wrong.append(f"--batch {batch} cannot apply: no input has a dynamic first dimension ({listing}); give the "
                     "shapes with --input-shape")
    if wrong:
        raise InputError("; ".join(wrong))
    if missing:
        one = len(missing) == 1
        what = " and ".join(f"'{name}' has dynamic dimensions {_fmt(declared)}" for name, declared, _ in missing)
        hint = " ".join(f"--input-shape {name}=" + "x".join(str(s) if s >= 0 else f"D{i}" for i, s in enumerate(shape))
                        for name, _, shape in missing)
        raise InputError(f"input{'' if one else 's'} {what}; give {'its shape' if one else 'their shapes'} with "
                         f"{hint} (D = a size of your choice; in an experiment: target.input_shapes)")
    return shapes


def _load_samples(req, details, np):
    """{input name: samples (N, ...)} from the request's .npy (a single-input model) or .npz (keyed by input
    name; for a single-input model also ``x_test`` or its only array). Empty for generated inputs."""
    if req["input_source"] != "test" or not req["input_path"]:
        return {}
    names = [d["name"] for d in details]
    path = req["input_path"]
    if not path.endswith(".npz"):
        if len(names) != 1:
            raise InputError(f"the model has {len(names)} inputs ({', '.join(names)}); give an .npz keyed by input name")
        return {names[0]: np.load(path, mmap_mode="r", allow_pickle=False)}  # only the samples used are read
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        # a key names an input by its own name, or by the Keras name a converter decorated
        # ("image" for "serving_default_image:0"), also as a dataset's "x_test_image"
        which = {k: _input_named(k, names) for k in keys}
        matched = [k for k in keys if which[k]]
        if not matched and len(names) == 1 and ("x_test" in keys or len(keys) == 1):
            return {names[0]: z["x_test" if "x_test" in keys else keys[0]]}
        unknown = [k for k in keys if not which[k]]
        if unknown or not matched:
            raise InputError(f"the .npz holds {', '.join(repr(k) for k in unknown or keys)}, which name no input "
                             f"of the model; its inputs: {', '.join(repr(n) for n in names)}")
        return {which[k]: z[k] for k in matched}


def _input_named(key, names):
    """The model input ``key`` names ('' when none): the same name, or a converter's decoration of it."""
    for k in (key, key[len("x_test_"):] if key.startswith("x_test_") else key):
        for n in names:
            bare = n.split(":")[0]
            if n == k or (bare[len("serving_default_"):] if bare.startswith("serving_default_") else bare) == k:
                return n
    return ""


def _convert(x, d, dtype, np):
    """A copy of the samples in the input's dtype (float samples quantized with the input's scale), never a
    view of the file; None when an integer input's scale is unknown and the samples are not whole numbers
    (they cannot be fed truthfully)."""
    if dtype.kind == "f" or dtype.kind == x.dtype.kind or (dtype.kind in "iu" and x.dtype.kind in "biu"):
        return np.array(x, dtype=dtype, order="C")
    if dtype.kind == "b":
        return np.array(x != 0, order="C")
    scale, zp = d["quantization"]
    if scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(x.astype(np.float32) / scale + zp), info.min, info.max).astype(dtype)
    if np.array_equal(x, np.round(x)):
        return np.array(x, dtype=dtype, order="C")
    return None


def _sample_buffers(x, d, shape, np):
    """At most MAX_SAMPLE_BUFFERS feeds of the input from its samples: each sample a whole input (N, *shape),
    or ``shape[0]`` samples per feed (N, *shape[1:]). None when they cannot be fed (see ``_convert``)."""
    dtype = np.dtype(d["dtype"])
    if tuple(x.shape[1:]) == tuple(shape):
        rows = 0  # one sample = one whole input
    elif shape and tuple(x.shape[1:]) == tuple(shape[1:]):
        rows = shape[0]
    else:
        want = shape[1:] if d["shape"] and int(d["shape"][0]) < 0 else shape  # a batch dim: samples are its rows
        raise InputError(f"the samples for input '{d['name']}' have shape (N{''.join(f', {s}' for s in x.shape[1:])}) but the input is "
                         f"{_fmt(shape)} ({dtype.name}): expected (N, {', '.join(str(s) for s in want)})")
    if rows == 0:
        chunks = [x[i] for i in range(min(MAX_SAMPLE_BUFFERS, len(x)))]
    elif len(x) < rows:
        chunks = [np.resize(np.asarray(x), shape)]
    else:
        chunks = [x[i * rows:(i + 1) * rows] for i in range(min(MAX_SAMPLE_BUFFERS, len(x) // rows))]
    out = [_convert(np.asarray(c), d, dtype, np) for c in chunks]
    return None if any(b is None for b in out) else out


def _random_buffers(rng, d, shape, np):
    """Generated data of the input's own dtype and shape: floats ~N(0,1); quantized or 8-bit integers over
    their range; wider integers in [0, 10) so an index input stays in bounds; booleans."""
    dtype = np.dtype(d["dtype"])
    if dtype.kind == "f":
        return [np.asarray(rng.standard_normal(shape)).astype(dtype) for _ in range(4)]
    if dtype.kind == "b":
        return [np.asarray(rng.integers(0, 2, size=shape)).astype(bool) for _ in range(4)]
    info = np.iinfo(dtype)
    lo, hi = (info.min, info.max) if d["quantization"][0] or dtype.itemsize == 1 else (0, 10)
    return [np.asarray(rng.integers(lo, hi, size=shape, dtype=dtype)) for _ in range(4)]


def input_arrays(details, shapes, req, np):
    """Per input, its feeds (from the samples, or generated), and a record of what was fed:
    {"name", "shape", "dtype", "source": "test" | "random", "buffers", "bytes"}."""
    samples = _load_samples(req, details, np)
    rng = np.random.default_rng(0)
    arrays, records = [], []
    for d, shape in zip(details, shapes, strict=True):
        bufs = _sample_buffers(samples[d["name"]], d, shape, np) if d["name"] in samples else None
        source = "test" if bufs is not None else "random"
        bufs = bufs if bufs is not None else _random_buffers(rng, d, shape, np)
        arrays.append(bufs)
        records.append({"name": d["name"], "shape": [int(s) for s in shape], "dtype": np.dtype(d["dtype"]).name,
                        "source": source, "buffers": len(bufs), "bytes": int(sum(b.nbytes for b in bufs))})
    del samples  # the full sample arrays go now: only the capped feeds stay resident
    return arrays, records


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


def _open(backend, req, np, phases=None, layer_profiling=False):
    """A session prepared at the resolved shapes, and its input feeds; ``layer_profiling``: with the runtime's
    per-node profiler on (only a backend with ``LAYER_PROFILER`` is asked)."""
    extra = {"layer_profiling": True} if layer_profiling else {}
    session = backend.open_session(req, np, phases=phases, rss_mb=_rss_mb, **extra)
    details = session.input_details()
    shapes = resolve_shapes(details, req)
    session.prepare(shapes)
    return session, details, shapes


def _profile_load(backend, req, np):
    """The service case: N client threads, each with its own session, invoke for T seconds."""
    import threading

    clients, seconds = int(req["clients"]), float(req["load_seconds"])
    sessions = [_open(backend, req, np) for _ in range(clients)]
    samples = [[] for _ in range(clients)]
    errors = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k):
        session, details, shapes = sessions[k]
        arrays, _ = input_arrays(details, shapes, req, np)
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
    """Load, prepare at the resolved shapes, build the inputs (their memory measured apart), reset the peak
    mark, then the timed loop; the session is freed before returning."""
    t = time.perf_counter()
    session, details, shapes = _open(backend, req, np, phases)
    init_ms = (time.perf_counter() - t) * 1000
    phases["after_allocate"] = _rss_mb()
    phases["peak_setup"] = _status_kb("VmHWM") / 1024.0  # load / compile spikes, before the inputs exist
    arrays, records = input_arrays(details, shapes, req, np)
    phases["inputs"] = max(0.0, _rss_mb() - phases["after_allocate"])
    _reset_peak()  # the peak below is the one during invokes (warm-up included)
    samples, loop_s = _time_loop(session, arrays, req)
    phases["peak"] = _status_kb("VmHWM") / 1024.0
    extra = session.facts()
    session.close()
    del arrays
    return init_ms, samples, loop_s, records, extra


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else float("nan")


def _profile_layers(backend, req, np):
    """Per-node times from the runtime's own profiler, in a session of their own (profiling slows a run, so
    the timed loop never has it on): each node's median over ``layer_runs`` runs after a warm-up, the
    end-to-end time of the same runs, and the per-run sum of the nodes (it should come close to it)."""
    if not hasattr(backend, "LAYER_PROFILER"):
        return {"profiler": "", "note": getattr(backend, "NO_LAYER_PROFILER", "no per-operator profiler")}
    runs = int(req["layer_runs"])
    session, details, shapes = _open(backend, req, np, layer_profiling=True)
    arrays, _ = input_arrays(details, shapes, req, np)
    for i in range(min(int(req["warmup_runs"]), 5)):
        _feed(session, arrays, i)
        session.invoke()
    wall = []
    for i in range(runs):
        _feed(session, arrays, i)
        t = time.perf_counter_ns()
        session.invoke()
        wall.append((time.perf_counter_ns() - t) / 1e6)
    per_run = session.layer_times()[-runs:]  # [{node: (type, ms)}] one dict per run; the warm-up's dropped
    made = session.node_sources() if hasattr(session, "node_sources") else {}  # node -> source tensors, weights
    session.close()
    nodes = {}
    for run in per_run:
        for name, (kind, ms) in run.items():
            nodes.setdefault(name, [kind, []])[1].append(ms)
    rows = sorted(({"node": n, "type": k, "ms_p50": _median(v), **made.get(n, {})} for n, (k, v) in nodes.items()),
                  key=lambda r: -r["ms_p50"])
    return {"profiler": backend.LAYER_PROFILER, "runs": runs, "e2e_ms_p50": _median(wall),
            "nodes_sum_ms_p50": _median([sum(ms for _, ms in run.values()) for run in per_run]),
            "nodes_ms_p50_sum": sum(r["ms_p50"] for r in rows), "nodes": rows}


#: a line of a runtime's message that only says where in its source the error was raised
_SOURCE_LINE = re.compile(r"^(Exception from \S+|\S+\.(cpp|cc|hpp|h|c|py):\d+.*|File \".*\", line \d+.*)$")


def _reason(exc, limit=1000):
    """The runtime's whole message on one line: every line joined by " | " (lines that only name a source
    location dropped), capped at ``limit`` characters."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    kept = [ln for ln in lines if not _SOURCE_LINE.match(ln)] or lines
    text = " | ".join(kept)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
        import zipfile  # noqa: F401  (np.load of an .npz needs it: imported before the baseline, not in "inputs")

        import numpy as np

        np.random.default_rng(0)  # the generator's modules load now, not while the inputs are measured
        phases = {"baseline": _rss_mb()}
        result["peak_reset"] = _reset_peak()
        init_ms, samples, loop_s, records, extra = _profile_single(backend, req, np, phases)
        phases["after_release"] = _rss_mb()  # the session has been freed by now
        if int(req["layer_runs"]) > 0:  # after the timed loop and its memory phases: they never see the profiler
            result["layers"] = _profile_layers(backend, req, np)
        if float(req["load_seconds"]) > 0 and backend.supports_load(req):
            result["load"] = _profile_load(backend, req, np)  # after the single-stream phases: peaks stay separate
        batch = int(req["batch"])
        sources = {r["source"] for r in records}
        result.update({
            "samples_ms": samples, "init_ms": init_ms, "loop_seconds": loop_s,
            "throughput_ips": len(samples) * batch / loop_s if loop_s > 0 else 0.0,
            "memory_mb": phases, "inputs": records,
            "input_source_used": sources.pop() if len(sources) == 1 else "mixed",
            "runtime": {"package": backend.PACKAGE, "version": backend.version(), "api": backend.api(req)},
            "tensorflow_imported": any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules),
            "device": _fingerprint(), "affinity": sorted(os.sched_getaffinity(0)),
            "startup_s": time.perf_counter() - _T0, **extra,
        })
        code = 0
    except BaseException as exc:  # report everything, including KeyboardInterrupt, to the parent
        if isinstance(exc, InputError):  # the user's to fix: said as is, and the parent exits 2 with it
            result["error"], result["input_error"] = _reason(exc), True
        else:
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
