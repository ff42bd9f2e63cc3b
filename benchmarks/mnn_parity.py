"""Benchmark: is ``workbench profile --runtime mnn`` MNN's own speed? MobileNetV2 224x224 (zoo, untrained
weights) float32 and int8 .tflite -> .mnn (MNNConvert); p50 from the workbench's profiler (``profile_model``,
the real child process) against a plain MNN timing loop (below: its Module API, one thread, warm-up,
``perf_counter`` around each run, median), each in a fresh process, one thread, interleaved rounds (the
order rotates per round). A third column runs the same runner script directly (``python runner.py
request.json``: no parent sampling the child's memory), to tell the backend from the launcher. Goal: the
p50s within +-5%. Writes results/mnn_parity.{json,md} with the load average; nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.convert import convert
from workbench.convert.mnn import convert_mnn
from workbench.data import load_dataset
from workbench.models import build_zoo_model, seed_everything
from workbench.profile import profile_model
from workbench.profile.request import ProfileRequest
from workbench.profile.targets import RUNNER
from workbench.spec import TargetSpec

OUT = Path(__file__).with_name("results")
ROUNDS, RUNS, WARMUP = 5, 200, 20
SHAPE = (1, 224, 224, 3)
#: the reference: plain MNN, written from its Python docs, sharing nothing with the workbench's runner
PLAIN = """
import statistics, sys, time
import numpy as np, MNN, MNN.expr as F
path, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shape = [int(s) for s in sys.argv[4].split(",")]
rt = MNN.nn.create_runtime_manager(({"backend": "CPU", "numThread": 1, "precision": "normal"},))
net = MNN.nn.load_module_from_file(path, [], [], runtime_manager=rt)
x = F.placeholder(shape, F.NHWC, F.float)
x.write(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
for _ in range(warmup):
    net.forward([x])[0].read()
ms = []
for _ in range(runs):
    t = time.perf_counter()
    net.forward([x])[0].read()
    ms.append((time.perf_counter() - t) * 1e3)
print(statistics.median(ms))
"""


def plain_p50_ms(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", PLAIN, str(path), str(RUNS), str(WARMUP), ",".join(map(str, SHAPE))],
                         capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


TARGET = TargetSpec(runtime="mnn", threads=1, warmup_runs=WARMUP, min_runs=RUNS, max_runs=RUNS, min_seconds=0,
                    input_source="random")


def workbench_p50_ms(path: Path) -> float:
    return profile_model(path, TARGET).latency.p50


def runner_direct_p50_ms(path: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out, req = Path(tmp) / "out.json", Path(tmp) / "request.json"
        req.write_text(ProfileRequest.from_target(path, TARGET, None, out).to_json())
        subprocess.run([sys.executable, str(RUNNER), str(req)], capture_output=True, check=True, timeout=600)
        return statistics.median(json.loads(out.read_text())["samples_ms"])


def main() -> int:
    seed_everything(0)
    data = load_dataset("synthetic", {"shape": list(SHAPE[1:]), "classes": 10, "train": 32, "test": 16})
    model = build_zoo_model("mobilenet_v2", SHAPE[1:], 10, {})
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, float]]] = {"float32": [], "int8": []}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for mode in rounds:
            tflite = Path(tmp) / f"mobilenet_v2_{mode}.tflite"
            tflite.write_bytes(convert(model, mode, data.x_train))
            files[mode] = Path(tmp) / f"mobilenet_v2_{mode}.mnn"
            convert_mnn(tflite, files[mode])
        ways = {"workbench_p50_ms": workbench_p50_ms, "plain_p50_ms": plain_p50_ms,
                "runner_direct_p50_ms": runner_direct_p50_ms}
        for k in range(ROUNDS):
            for mode, path in files.items():
                order = list(ways)[k % 3:] + list(ways)[:k % 3]  # rotate who goes first
                row = {name: ways[name](path) for name in order}
                row.update(ratio=row["workbench_p50_ms"] / row["plain_p50_ms"],
                           direct_ratio=row["runner_direct_p50_ms"] / row["plain_p50_ms"], loadavg_1m=os.getloadavg()[0])
                rounds[mode].append(row)
                print(mode, row, flush=True)
        sizes = {mode: path.stat().st_size for mode, path in files.items()}
    summary = {mode: {"median_ratio": statistics.median(r["ratio"] for r in rs),
                      "min_ratio": min(r["ratio"] for r in rs), "max_ratio": max(r["ratio"] for r in rs),
                      "workbench_p50_ms_median": statistics.median(r["workbench_p50_ms"] for r in rs),
                      "plain_p50_ms_median": statistics.median(r["plain_p50_ms"] for r in rs),
                      "runner_direct_p50_ms_median": statistics.median(r["runner_direct_p50_ms"] for r in rs),
                      "median_direct_ratio": statistics.median(r["direct_ratio"] for r in rs),
                      "mnn_size_bytes": sizes[mode]} for mode, rs in rounds.items()}
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": rounds, "summary": summary,
              "runs_per_measurement": RUNS, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "cpu_count": os.cpu_count()}
    OUT.mkdir(exist_ok=True)
    (OUT / "mnn_parity.json").write_text(json.dumps(result, indent=1))
    lines = ["| mode | workbench p50 ms | plain MNN p50 ms | runner direct p50 ms | workbench / plain: median (min-max) "
             "| runner direct / plain | .mnn KB |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {m} | {s['workbench_p50_ms_median']:.2f} | {s['plain_p50_ms_median']:.2f} | "
              f"{s['runner_direct_p50_ms_median']:.2f} | {s['median_ratio']:.3f} ({s['min_ratio']:.3f}-{s['max_ratio']:.3f}) | "
              f"{s['median_direct_ratio']:.3f} | {s['mnn_size_bytes'] / 1024:.0f} |" for m, s in summary.items()]
    lines.append("\n(p50 columns: median over rounds of each measurement's p50)")
    lines.append(f"\n{ROUNDS} interleaved rounds, {RUNS} timed runs each, 1 thread; load average (1, 5, 15 min) "
                 f"before {', '.join(f'{v:.2f}' for v in load_before)}, after "
                 f"{', '.join(f'{v:.2f}' for v in result['loadavg_after'])} on {os.cpu_count()} cores (shared machine)")
    (OUT / "mnn_parity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
