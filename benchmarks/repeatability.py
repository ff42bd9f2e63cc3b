"""Repeatability (issue 16): N profiles of one .tflite with ``workbench profile``'s code path, interleaved with
N timings of the same file by a plain LiteRT Interpreter loop (no workbench code), each a fresh process on the
same core, 1 thread, 3 s. Per measurement: the host's steal time on each vCPU (``/proc/stat``) and how busy
the other vCPU was, so a slow measurement can be told from this machine's own activity.

max/min of the p50s is the repeatability; the plain loop's max/min beside it is the floor this machine allows.
Writes results/repeatability.{json,md}. Run: ``python benchmarks/repeatability.py [FILE.tflite] [--n 10]``
(without a file: the zoo MobileNetV2 224x224 float32, built with the workbench). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.profile import profile_model
from workbench.profile.stats import spread_ratio
from workbench.spec import TargetSpec

sys.path.insert(0, str(Path(__file__).parent))
from parity import LITERT_LOOP, openvino_loop  # noqa: E402  (the plain loops live with the parity benchmark)

OUT = Path(__file__).with_name("results")
SECONDS = 3.0


def _cpu_stat() -> dict[str, list[int]]:
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            fields = line.split()
            out[fields[0]] = [int(x) for x in fields[1:]]
    return out


def _measured(fn: Any, core: int) -> dict[str, Any]:
    before, t0 = _cpu_stat(), time.time()
    p50 = fn()
    after, t1 = _cpu_stat(), time.time()
    others = [c for c in before if c != f"cpu{core}"]
    busy = {c: round(sum(after[c][k] - before[c][k] for k in (0, 1, 2)) / max(1e-9, (t1 - t0) * 100), 2) for c in others}
    return {"p50_ms": p50, "steal_ticks": {c: after[c][7] - before[c][7] for c in before}, "other_cpus_busy": busy,
            "seconds": round(t1 - t0, 2), "loadavg_1m": os.getloadavg()[0]}


def _mobilenet(folder: Path) -> Path:
    from workbench.convert import convert
    from workbench.models import build_zoo_model, seed_everything

    seed_everything(0)
    path = folder / "mobilenet_v2_float32.tflite"
    path.write_bytes(convert(build_zoo_model("mobilenet_v2", (224, 224, 3), 10, {}), "float32"))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    core = max(os.sched_getaffinity(0))
    target = TargetSpec(threads=1, warmup_runs=20, min_runs=50, min_seconds=SECONDS, cpu_pin=[core])
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or _mobilenet(Path(tmp))
        ours, plain = [], []
        for i in range(args.n):
            pair = [("ours", lambda: profile_model(path, target).latency.p50),
                    ("plain", lambda: openvino_loop(path, core, LITERT_LOOP)[0])]
            for name, fn in (pair if i % 2 == 0 else pair[::-1]):
                row = _measured(fn, core)
                (ours if name == "ours" else plain).append(row)
                print(name, json.dumps(row), flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "")
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu, "model": path.name,
              "seconds": SECONDS, "core": core, "ours": ours, "plain_loop": plain,
              "ours_max_over_min": spread_ratio([r["p50_ms"] for r in ours]),
              "plain_max_over_min": spread_ratio([r["p50_ms"] for r in plain]),
              "ours_first5_max_over_min": spread_ratio([r["p50_ms"] for r in ours[:5]])}
    lines = [f"# Repeatability: {args.n} profiles of {path.name} vs a plain LiteRT loop, interleaved", "",
             f"When: {result['when']}  CPU: {cpu}  core {core}, 1 thread, {SECONDS:g} s each, fresh process each.", "",
             "| # | ours p50 ms | plain loop p50 ms | steal ticks (ours) | other vCPU busy (ours) | load 1m |", "|---|---:|---:|---|---|---:|"]
    for i, (o, p) in enumerate(zip(ours, plain, strict=True)):
        lines.append(f"| {i + 1} | {o['p50_ms']:.3f} | {p['p50_ms']:.3f} | {o['steal_ticks']} | {o['other_cpus_busy']} | "
                     f"{o['loadavg_1m']:.2f} |")
    lines += ["", f"max/min p50: ours {result['ours_max_over_min']:.3f} (first five {result['ours_first5_max_over_min']:.3f}), "
              f"plain loop {result['plain_max_over_min']:.3f}. Steal ticks are 10 ms each."]
    OUT.mkdir(exist_ok=True)
    (OUT / "repeatability.json").write_text(json.dumps(result, indent=1))
    (OUT / "repeatability.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
