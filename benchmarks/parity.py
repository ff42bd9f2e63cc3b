"""Parity benchmark (issue 16): ``workbench profile`` p50 against the reference runners, on the same files.

Models: the pretrained .tflite files shipped in the ``mediapipe`` wheel (downloaded with pip into
``~/.cache/workbench-bench`` at benchmark time, never in tests) and the zoo MobileNetV2 float32 / int8 built
with the workbench. Each model is measured in two pairs, 1 thread, in interleaved rounds (ours, reference,
ours, reference, ...):

- LiteRT: ``profile_model`` (the real child-process path, default Interpreter API with XNNPACK) against
  Google's ``litert-benchmark`` from the pinned ai-edge-litert wheel (CompiledModel API on the CPU, XNNPACK
  underneath; its median, which it reports with 0.01 ms resolution).
- OpenVINO: ``profile_model(runtime=openvino)`` against a plain loop (``compile_model`` with the backend's
  own hints, ``perf_counter`` around ``infer``, median).

Both sides of a pair run pinned to the same core (the highest-numbered, which the profiler picks by default
for a 1-thread target). Ratio = ours / reference per round; per pair the median ratio and its spread over the
rounds. Writes results/parity.{json,md} with the load average before / after and the CPU.
Run: ``python benchmarks/parity.py [--rounds 5]``. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from workbench.profile import profile_model
from workbench.spec import TargetSpec

OUT = Path(__file__).with_name("results")
CACHE = Path.home() / ".cache" / "workbench-bench"
MEDIAPIPE = "mediapipe==0.10.21"
#: pretrained models inside the mediapipe wheel (vision; each runs on LiteRT's builtin ops and on OpenVINO)
MODELS = ("face_detection/face_detection_short_range", "face_landmark/face_landmark", "hand_landmark/hand_landmark_full",
          "palm_detection/palm_detection_full", "pose_detection/pose_detection", "iris_landmark/iris_landmark")
SECONDS = 2.0  # timed seconds per measurement, on both sides
OURS = {"threads": 1, "warmup_runs": 10, "min_runs": 50, "min_seconds": SECONDS, "max_seconds": 30,
        "input_source": "random"}
#: the timed part of both plain loops: 10 warm-up calls of ``invoke``, then single calls for ``seconds``
_TIMED = r"""
for _ in range(10):
    invoke()
times, start = [], time.perf_counter()
while len(times) < 50 or time.perf_counter() - start < seconds:
    t = time.perf_counter()
    invoke()
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times), "runs": len(times)}))
"""
OV_LOOP = r"""
import json, statistics, sys, time
import numpy as np, openvino as ov
path, seconds = sys.argv[1], float(sys.argv[2])
core = ov.Core()
model = core.read_model(path)
model.reshape({k: ov.PartialShape([d.get_length() if d.is_static else 1 for d in p.get_partial_shape()])
               for k, p in enumerate(model.inputs)})
compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
req = compiled.create_infer_request()
rng = np.random.default_rng(0)
for k, p in enumerate(compiled.inputs):
    req.get_input_tensor(k).data[...] = rng.standard_normal(list(p.get_shape())).astype(p.get_element_type().to_dtype())
invoke = req.infer
""" + _TIMED
#: a plain LiteRT Interpreter loop (the API ``workbench profile`` uses; litert-benchmark uses CompiledModel)
LITERT_LOOP = r"""
import json, statistics, sys, time
import numpy as np
from ai_edge_litert import interpreter as litert
path, seconds = sys.argv[1], float(sys.argv[2])
interp = litert.Interpreter(model_path=path, num_threads=1)
interp.allocate_tensors()
rng = np.random.default_rng(0)
for d in interp.get_input_details():
    x = rng.standard_normal(list(d["shape"])) if d["dtype"] in (np.float32, np.float16) else rng.integers(-8, 8, list(d["shape"]))
    interp.set_tensor(d["index"], x.astype(d["dtype"]))
invoke = interp.invoke
""" + _TIMED


def fetch_models() -> dict[str, Path]:
    """The mediapipe wheel's .tflite files, unzipped into the cache (pip download on first use)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"mediapipe-{MEDIAPIPE.split('==')[1]}-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", MEDIAPIPE, "--no-deps", "--only-binary=:all:",
                        "-d", str(CACHE)], check=True)
        wheels = sorted(CACHE.glob(f"mediapipe-{MEDIAPIPE.split('==')[1]}-*.whl"))
    out = {}
    with zipfile.ZipFile(wheels[0]) as z:
        for name in MODELS:
            dest = CACHE / "models" / f"{Path(name).name}.tflite"
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(f"mediapipe/modules/{name}.tflite"))
            out[Path(name).name] = dest
    return out


def build_mobilenet(folder: Path) -> dict[str, Path]:
    """The zoo MobileNetV2 224x224 (10 classes), float32 and int8, converted by the workbench."""
    from workbench.convert import convert
    from workbench.data import load_dataset
    from workbench.models import build_zoo_model, seed_everything

    seed_everything(0)
    data = load_dataset("synthetic", {"shape": [224, 224, 3], "classes": 10, "train": 32, "test": 16})
    model = build_zoo_model("mobilenet_v2", (224, 224, 3), 10, {})
    out = {}
    for mode in ("float32", "int8"):
        out[f"mobilenet_v2_{mode}"] = folder / f"mobilenet_v2_{mode}.tflite"
        out[f"mobilenet_v2_{mode}"].write_bytes(convert(model, mode, data.x_train))
    return out


def _pinned(cmd: list[str], core: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: os.sched_setaffinity(0, {core}))


def litert_benchmark(path: Path, core: int, estimate_ms: float) -> tuple[float, float]:
    """(median, min) ms from ``litert-benchmark`` (1 thread), about SECONDS of timed runs."""
    runs = max(50, int(SECONDS * 1000 / max(estimate_ms, 0.01)))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        exe = Path(sys.executable).with_name("litert-benchmark")
        proc = _pinned([str(exe), "--model", str(path), "--num_threads", "1", "--warmup_runs", "10",
                        "--num_runs", str(runs), "--result_json", f.name], core)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "litert-benchmark failed")
        latency = json.loads(Path(f.name).read_text())["latency"]
        return float(latency["median_ms"]), float(latency["min_ms"])


def openvino_loop(path: Path, core: int, script: str = OV_LOOP) -> tuple[float, float]:
    """(median, min) ms of a plain OpenVINO (or LiteRT Interpreter) loop, about SECONDS of timed runs."""
    proc = _pinned([sys.executable, "-c", script, str(path), str(SECONDS)], core)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "plain loop failed")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(out["median_ms"]), float(out["min_ms"])


REFERENCES = {"litert-benchmark": "litert", "litert loop": "litert", "openvino loop": "openvino"}


def reference(name: str, path: Path, core: int, estimate_ms: float) -> tuple[float, float]:
    if name == "litert-benchmark":
        return litert_benchmark(path, core, estimate_ms)
    return openvino_loop(path, core, LITERT_LOOP if name == "litert loop" else OV_LOOP)


def measure_pair(path: Path, runtime: str, rounds: int, core: int, ref_name: str | None = None,
                 control: bool = False) -> dict[str, Any]:
    """Interleaved rounds, ``rounds`` times, the order alternating (ours, ref / ref, ours) so that a drift or
    a "second in the round" effect falls on both sides; ratios ours / reference. With ``control`` each round
    also measures the reference a second time (A/A): the spread of reference / reference is the machine's
    own run-to-run noise, the floor no harness can beat."""
    ref_name = ref_name or ("litert-benchmark" if runtime == "litert" else "openvino loop")
    target = TargetSpec(runtime=runtime, cpu_pin=[core], **OURS)  # type: ignore[arg-type]
    ours, ref, ours_min, ref_min, load, again = [], [], [], [], [], []
    estimate = 10.0
    for k in range(rounds):
        load.append(os.getloadavg()[0])
        steps = ["ours", "ref", "again"] if control else ["ours", "ref"]
        for step in (steps if k % 2 == 0 else steps[::-1]):
            if step == "ours":
                r = profile_model(path, target)
                ours.append(r.latency.p50)
                ours_min.append(r.latency.min)
                estimate = r.latency.p50
            elif step == "ref":
                median, fastest = reference(ref_name, path, core, estimate)
                ref.append(median)
                ref_min.append(fastest)
            else:
                again.append(reference(ref_name, path, core, estimate)[0])
        print(f"  {path.stem:<36} {ref_name:<16} ours {ours[-1]:8.3f} ms  reference {ref[-1]:8.3f} ms"
              + (f" again {again[-1]:8.3f}" if control else "")
              + f"  (min {ours_min[-1]:.3f} / {ref_min[-1]:.3f})  load {load[-1]:.1f}", flush=True)
    ratios = [o / f for o, f in zip(ours, ref, strict=True)]
    min_ratios = [o / f for o, f in zip(ours_min, ref_min, strict=True)]
    median = statistics.median(ratios)
    out = {"model": path.stem, "runtime": runtime, "reference": ref_name,
           "ours_p50_ms": ours, "reference_median_ms": ref, "ratios": ratios, "median_ratio": median,
           "ratio_min": min(ratios), "ratio_max": max(ratios), "within_5pct": abs(median - 1) <= 0.05,
           "ours_min_ms": ours_min, "reference_min_ms": ref_min, "min_ratios": min_ratios,
           "median_min_ratio": statistics.median(min_ratios), "loadavg_1m": load}
    if control:
        aa = [a / f for a, f in zip(again, ref, strict=True)]
        out.update({"reference_again_ms": again, "aa_ratios": aa, "aa_median_ratio": statistics.median(aa),
                    "aa_min": min(aa), "aa_max": max(aa)})
    return out


def _markdown(result: dict[str, Any]) -> str:
    lines = ["# Parity: `workbench profile` p50 against the reference runners", "",
             f"When: {result['when']}  CPU: {result['cpu']} ({result['cpu_count']} cores)  "
             f"load average (1m) before {result['load_before'][0]:.2f}, after {result['load_after'][0]:.2f}  "
             f"rounds per pair: {result['rounds']}", "",
             "Interleaving ours and the reference in rounds keeps the ratio fair under whatever load the machine "
             "has (listed per round). Both sides pinned to the same core, 1 thread. "
             "litert-benchmark reports its median with 0.01 ms resolution. Ratio = ours / reference, per round; "
             "the table gives the median over the rounds and its spread (min-max). The ratio of the fastest "
             "invokes (min / min) is the least disturbed by other processes: an overhead of ours would show there "
             "too.", "",
             "Rounds alternate their order (ours first, then the reference first). A/A: the reference measured "
             "twice in each round (reference / reference); its spread is this machine's run-to-run noise, "
             "which bounds how closely any two measurements can agree here. 'litert loop' is a plain "
             "Interpreter loop (the API `workbench profile` uses); litert-benchmark uses the CompiledModel API.", "",
             "| model | runtime | reference | ours p50 ms (median) | reference ms (median) | ratio (median) | spread over rounds | within ±5% | min/min ratio (median) | A/A ratio (median) | A/A spread | load 1m over rounds |",
             "|---|---|---|---:|---:|---:|---|---|---:|---:|---|---|"]
    for p in result["pairs"]:
        if "error" in p:
            lines.append(f"| {p['model']} | {p['runtime']} | {p['reference']} | | | | {p['error']} | n/a | | | | |")
            continue
        lines.append(f"| {p['model']} | {p['runtime']} | {p['reference']} | {statistics.median(p['ours_p50_ms']):.3f} | "
                     f"{statistics.median(p['reference_median_ms']):.3f} | {p['median_ratio']:.3f} | "
                     f"{p['ratio_min']:.3f}-{p['ratio_max']:.3f} | {'yes' if p['within_5pct'] else 'NO'} | "
                     f"{p['median_min_ratio']:.3f} | "
                     + (f"{p['aa_median_ratio']:.3f} | {p['aa_min']:.3f}-{p['aa_max']:.3f} | " if "aa_ratios" in p else " | | ")
                     + f"{min(p['loadavg_1m']):.1f}-{max(p['loadavg_1m']):.1f} |")
    done = [p for p in result["pairs"] if "error" not in p]
    min_ok = sum(abs(p["median_min_ratio"] - 1) <= 0.05 for p in done)
    rounds = [x for p in done for x in p["ratios"]]
    lines += ["", f"{sum(p['within_5pct'] for p in done)} of {len(done)} pairs within ±5% (median ratio); "
              f"{min_ok} of {len(done)} by the min/min ratio. Median of the pairs' median ratios: "
              f"{statistics.median([p['median_ratio'] for p in done]):.3f}; {sum(x < 1 for x in rounds)} of "
              f"{len(rounds)} round ratios below 1 (ours faster)."]
    controlled = [p for p in done if "aa_ratios" in p]
    if controlled:
        aa_ok = sum(abs(p["aa_median_ratio"] - 1) <= 0.05 for p in controlled)
        aa_rounds = [x for p in controlled for x in p["aa_ratios"]]
        lines.append(f"A/A control: {aa_ok} of {len(controlled)} pairs have the reference within ±5% of itself "
                     f"(median ratio); A/A round ratios range {min(aa_rounds):.3f}-{max(aa_rounds):.3f}, ours / "
                     f"reference {min(rounds):.3f}-{max(rounds):.3f}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="", help="comma-separated substrings of model names (default: all)")
    parser.add_argument("--control", action="store_true", help="measure the reference twice per round (A/A)")
    parser.add_argument("--name", default="parity", help="results file name in benchmarks/results/")
    parser.add_argument("--litert-loop", action="store_true",
                        help="also compare LiteRT against a plain Interpreter loop (the API we use)")
    args = parser.parse_args()
    core = max(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    pairs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        wanted = [w for w in args.models.split(",") if w]
        models = fetch_models()
        if not wanted or any(w in "mobilenet_v2_float32 mobilenet_v2_int8" for w in wanted):
            models.update(build_mobilenet(Path(tmp)))
        refs = ["litert-benchmark", *(["litert loop"] if args.litert_loop else []), "openvino loop"]
        for name, path in models.items():
            if wanted and not any(w in name for w in wanted):
                continue
            for ref in refs:
                runtime = REFERENCES[ref]
                try:
                    pairs.append(measure_pair(path, runtime, args.rounds, core, ref, args.control))
                except Exception as exc:  # a model one runner cannot run: said in the table, not hidden
                    pairs.append({"model": name, "runtime": runtime, "reference": ref, "error": str(exc)[-300:]})
                    print(f"  {name} {runtime}: {exc}", flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu, "cpu_count": os.cpu_count(),
              "load_before": load_before, "load_after": os.getloadavg(), "rounds": args.rounds, "pinned_core": core,
              "control": args.control, "models_filter": args.models,
              "mediapipe": MEDIAPIPE, "seconds_per_measurement": SECONDS, "pairs": pairs}
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    (OUT / f"{args.name}.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
