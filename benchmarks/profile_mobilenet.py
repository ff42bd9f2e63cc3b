"""Benchmark: MobileNetV2 224x224 float32 vs int8 on LiteRT at 1 and 2 threads, plus the repeatability
of p50 over five identical profiles. Writes results/profile_mobilenet.{json,md}. Run: make bench.

Measures the workbench's profiler itself; nothing here asserts a timing.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from workbench.convert import convert
from workbench.data import load_dataset
from workbench.models import build_zoo_model, seed_everything
from workbench.profile import profile_model
from workbench.profile.stats import spread_ratio
from workbench.spec import TargetSpec

OUT = Path(__file__).with_name("results")
STEADY = {"threads": 1, "warmup_runs": 20, "min_runs": 50, "min_seconds": 3}  # the repeatability profiles


def main() -> int:
    seed_everything(0)
    data = load_dataset("synthetic", {"shape": [224, 224, 3], "classes": 10, "train": 32, "test": 16})
    model = build_zoo_model("mobilenet_v2", (224, 224, 3), 10, {})
    rows, files = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("float32", "int8"):
            files[mode] = Path(tmp) / f"mobilenet_v2_{mode}.tflite"
            files[mode].write_bytes(convert(model, mode, data.x_train))
        for mode, path in files.items():
            for threads in (1, 2):
                target = TargetSpec(threads=threads, warmup_runs=5, min_runs=50, min_seconds=3, max_seconds=30)
                r = profile_model(path, target, data.x_test)
                m, mem = r.metrics(), r.memory
                rows.append({"mode": mode, "threads": threads, "p50_ms": m["latency_ms_p50"],
                             "p95_ms": m["latency_ms_p95"], "init_ms": m["init_ms"],
                             "mem_load_mb": mem.after_load_mb - mem.baseline_mb, "mem_init_mb": m["memory_mb_init"],
                             "mem_peak_mb": m["memory_mb_peak"], "runs": r.latency.runs, "noisy": r.latency.noisy,
                             "size_bytes": path.stat().st_size})
                print(rows[-1], flush=True)
        steady, pinned_cpu0 = TargetSpec(**STEADY), TargetSpec(**STEADY, cpu_pin=[0])
        repeat = [profile_model(files["float32"], steady, data.x_test).latency.p50 for _ in range(5)]
        pinned = [profile_model(files["float32"], pinned_cpu0, data.x_test).latency.p50 for _ in range(5)]
        load = {}
        for clients in (1, 2):  # the service case: N clients, each its own 1-thread interpreter, for 5 s
            r = profile_model(files["float32"], TargetSpec(threads=1, warmup_runs=5, min_runs=5, min_seconds=0.5,
                                                           clients=clients, load_seconds=5), data.x_test)
            m = r.metrics()
            load[clients] = {k: m[k] for k in ("load_throughput_ips", "load_latency_ms_p50", "load_latency_ms_p95",
                                               "load_latency_ms_p99", "load_errors", "load_memory_mb_peak")}
            print({"clients": clients, **load[clients]}, flush=True)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows, "load": load,
              "repeat_p50_ms": repeat, "repeat_spread_max_over_min": spread_ratio(repeat),
              "repeat_pinned_p50_ms": pinned, "repeat_pinned_spread_max_over_min": spread_ratio(pinned)}
    OUT.mkdir(exist_ok=True)
    (OUT / "profile_mobilenet.json").write_text(json.dumps(result, indent=1))
    lines = ["| mode | threads | p50 ms | p95 ms | init ms | load MB | alloc MB | peak MB |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['mode']} | {r['threads']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['init_ms']:.1f} | "
              f"{r['mem_load_mb']:.1f} | {r['mem_init_mb']:.1f} | {r['mem_peak_mb']:.1f} |" for r in rows]
    lines.append(f"\nFive repeated float32 1-thread profiles: p50 = {', '.join(f'{p:.3f}' for p in repeat)} ms; "
                 f"max/min = {result['repeat_spread_max_over_min']:.3f}")
    lines.append(f"The same pinned to CPU 0 (`cpu_pin: [0]`): p50 = {', '.join(f'{p:.3f}' for p in pinned)} ms; "
                 f"max/min = {result['repeat_pinned_spread_max_over_min']:.3f}")
    lines.append("\n| load: clients (float32, 1 thread each, 5 s) | throughput /s | p50 ms | p95 ms | p99 ms | errors |")
    lines.append("|---|---|---|---|---|---|")
    lines += [f"| {c} | {v['load_throughput_ips']:.1f} | {v['load_latency_ms_p50']:.2f} | {v['load_latency_ms_p95']:.2f} | "
              f"{v['load_latency_ms_p99']:.2f} | {v['load_errors']:.0f} |" for c, v in load.items()]
    (OUT / "profile_mobilenet.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
