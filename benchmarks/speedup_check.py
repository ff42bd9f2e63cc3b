"""Benchmark: is the speed-up a sweep records the speed-up the runtime gives?

For MobileNetV2 int8 against float32 (the two .tflite files a sweep wrote), per runtime (LiteRT, OpenVINO):

1. the reference: a plain timing loop on the runtime's own API, no workbench code, each measurement a fresh
   process, int8 and float32 interleaved (A B, B A, ...) for ``--rounds`` rounds; ratio = median over
   rounds of float32 p50 / int8 p50;
2. the recorded speed-up and its interval, read from the sweep's ``summary.json`` files
   (``speedup_vs_float`` and ``speedup_vs_float.<axis>``), and the same code path the sweep uses
   (``profile.paired.measure_rounds`` over ``profile_model``, 5 rounds, 3 s budget) run right after the
   reference, since the sweep measured at another time, under another load;
3. five repeated ``workbench.profile.profile_model`` profiles of float32 on LiteRT: max/min p50.

Writes results/speedup_check.{json,md} with the machine's load. Nothing here asserts a timing.
Run: .venv/bin/python benchmarks/speedup_check.py --variants WORK_DIR/variants [--axis ov]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.profile import profile_model
from workbench.profile.paired import measure_rounds
from workbench.profile.stats import ratio_of_rounds, spread_ratio
from workbench.spec import TargetSpec

OUT = Path(__file__).with_name("results")

#: a plain loop per runtime: load, 10 warm-up calls, then time single calls for ``seconds``; prints the p50 (ms)
LOOP = {
    "litert": """
import sys, time, numpy as np
from ai_edge_litert.interpreter import Interpreter
m = Interpreter(model_path=sys.argv[1], num_threads=1); m.allocate_tensors()
i = m.get_input_details()[0]
x = np.random.default_rng(0).random(i["shape"]).astype(i["dtype"]) if i["dtype"] == np.float32 else \\
    np.random.default_rng(0).integers(-128, 127, i["shape"]).astype(i["dtype"])
m.set_tensor(i["index"], x)
for _ in range(10): m.invoke()
t, end = [], time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < end:
    a = time.perf_counter_ns(); m.invoke(); t.append((time.perf_counter_ns() - a) / 1e6)
print(float(np.median(t)))
""",
    "openvino": """
import sys, time, numpy as np, openvino as ov
core = ov.Core()
m = core.read_model(sys.argv[1])
m.reshape({0: ov.PartialShape([1] + [d.get_length() for d in list(m.inputs[0].get_partial_shape())[1:]])})
c = core.compile_model(m, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
r = c.create_infer_request()
x = np.random.default_rng(0).random(list(c.inputs[0].get_shape())).astype(np.float32)
for _ in range(10): r.infer({0: x})
t, end = [], time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < end:
    a = time.perf_counter_ns(); r.infer({0: x}); t.append((time.perf_counter_ns() - a) / 1e6)
print(float(np.median(t)))
""",
}


def plain_p50_ms(runtime: str, model: Path, seconds: float) -> float:
    """p50 of a plain loop on ``runtime`` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", LOOP[runtime], str(model), str(seconds)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def reference_ratio(runtime: str, float_file: Path, int8_file: Path, rounds: int, seconds: float) -> dict[str, Any]:
    """float32 p50 / int8 p50 from interleaved plain-loop rounds."""
    fl, q = [], []
    for i in range(rounds):
        order = [(float_file, fl), (int8_file, q)] if i % 2 == 0 else [(int8_file, q), (float_file, fl)]
        for path, into in order:
            into.append(plain_p50_ms(runtime, path, seconds))
    r = ratio_of_rounds(fl, q)
    return {"float32_p50_ms": fl, "int8_p50_ms": q, "ratio": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high}


def recorded(variants: Path, axis: str) -> dict[str, dict[str, float]]:
    """The int8 variant's recorded speed-up per runtime (main target: litert; ``axis``: openvino)."""
    summary = json.loads(next(variants.glob("int8-*/summary.json")).read_text())
    out = {}
    for runtime, suffix in (("litert", ""), ("openvino", f".{axis}")):
        if f"speedup_vs_float{suffix}" in summary:
            out[runtime] = {k: summary.get(f"{k}{suffix}", float("nan")) for k in
                            ("speedup_vs_float", "speedup_vs_float_ci_low", "speedup_vs_float_ci_high",
                             "latency_ms_p50", "float_latency_ms_p50")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=Path, required=True, help="the sweep's WORK_DIR/variants folder")
    ap.add_argument("--axis", default="ov", help="the profile axis that runs OpenVINO")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.5)
    args = ap.parse_args()
    float_file = next(args.variants.glob("float32-*/model.tflite"))
    int8_file = next(args.variants.glob("int8-*/model.tflite"))
    load_before = os.getloadavg()
    t0 = time.time()
    ref = {rt: reference_ratio(rt, float_file, int8_file, args.rounds, args.seconds) for rt in ("litert", "openvino")}
    rec = recorded(args.variants, args.axis)
    target = TargetSpec(threads=1, warmup_runs=5, min_runs=30, min_seconds=3.0, max_seconds=30)
    now = {}
    for rt in ("litert", "openvino"):
        s = measure_rounds(lambda p, t: profile_model(p, t), int8_file, float_file,
                           target.model_copy(update={"runtime": rt}), 5).speedup
        assert s is not None
        now[rt] = {"speedup_vs_float": s.value, "ci_low": s.ci_low, "ci_high": s.ci_high}
    repeats = [profile_model(float_file, target).latency.p50 for _ in range(5)]
    load_after = os.getloadavg()
    result = {"reference": ref, "recorded": rec, "workbench_paired_now": now, "repeats_float32_litert_p50_ms": repeats,
              "repeat_spread": spread_ratio(repeats), "loadavg_before": load_before, "loadavg_after": load_after,
              "seconds": time.time() - t0, "cpu_count": os.cpu_count(), "files": [str(float_file), str(int8_file)]}
    OUT.mkdir(exist_ok=True)
    (OUT / "speedup_check.json").write_text(json.dumps(result, indent=1))
    lines = ["# MobileNetV2 int8 vs float32: recorded speed-up against an interleaved plain-loop reference", "",
             f"Load average (1, 5, 15 min) before {load_before}, after {load_after}; {os.cpu_count()} cores, "
             f"shared with other work. Reference: {args.rounds} interleaved rounds, {args.seconds:g} s each, plain "
             "runtime loop in a fresh process, 1 thread.", "",
             "| runtime | reference ratio (median, 95% interval) | recorded speed-up (95% interval) | recorded / reference "
             "| recorded int8 p50 vs float32 p50 (same rounds) | workbench paired, right after the reference "
             "| workbench / reference |", "|---|---|---|---|---|---|---|"]
    for rt, r in ref.items():
        got, w = rec.get(rt, {}), now[rt]
        s = got.get("speedup_vs_float", float("nan"))
        lines.append(f"| {rt} | x{r['ratio']:.2f} ({r['ci_low']:.2f}-{r['ci_high']:.2f}) | x{s:.2f} "
                     f"({got.get('speedup_vs_float_ci_low', float('nan')):.2f}-"
                     f"{got.get('speedup_vs_float_ci_high', float('nan')):.2f}) | {s / r['ratio']:.3f} | "
                     f"{got.get('latency_ms_p50', float('nan')):.2f} vs {got.get('float_latency_ms_p50', float('nan')):.2f} ms "
                     f"| x{w['speedup_vs_float']:.2f} ({w['ci_low']:.2f}-{w['ci_high']:.2f}) "
                     f"| {w['speedup_vs_float'] / r['ratio']:.3f} |")
    lines += ["", f"Five repeated `profile_model` profiles of float32 on LiteRT (1 thread, 3 s): p50 = "
              f"{', '.join(f'{p:.3f}' for p in repeats)} ms; max/min = {spread_ratio(repeats):.3f} "
              f"(median {np.median(repeats):.3f} ms)", ""]
    (OUT / "speedup_check.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
