"""Benchmark: the per-layer precision search (``workbench search --precision``) on the digits CNN and on a
MobileNetV2 (zoo, weights=None, alpha 1.0, trained 6 epochs on the digits as 96x96 colour images: real data,
360 test samples), measured on LiteRT. Writes results/precision_search.{json,md}.

For each model: every candidate the search measured (uniform per-layer references, the seeds from the
per-layer evidence, NSGA-II's draws), the converter's uniform modes measured by the same protocol, the
front (accuracy delta, size, p50), the candidate count and wall time, and the acceptance question: does the
front hold a mixed variant meeting a budget no uniform mode meets? A mixed front member m answers yes when
no uniform mode within the experiment's accuracy budget is at least as small as m (the budget "drop <= the
experiment's, size <= m's": accuracy differences of a test sample or two decide nothing); then the same with
latency added, where a uniform mode counts as slower only when its speed-up over float (5 interleaved rounds,
95% interval) lies wholly below m's: a difference inside the noise is a tie.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/precision_search.py [--trials 24] [--models digits,mobilenet]``
(a temporary project: its own MLflow store and work dir; TensorFlow only for the baselines and the converter's
reference modes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("results")
TARGET = "target: {threads: 1, warmup_runs: 3, min_runs: 20, min_seconds: 0.3, max_seconds: 3}\nrounds: 5\n"
EXPERIMENTS = {
    "digits": textwrap.dedent("""\
        name: precision-digits
        baseline: {model: digits_cnn, dataset: digits, training: {epochs: 8, batch_size: 32, seed: 0}}
        budgets: {max_accuracy_drop: 0.5}
        calibration_samples: 100
        variants:
          - {name: float32, quantization: float32}
        """),
    "mobilenet": textwrap.dedent("""\
        name: precision-mobilenet-v2
        baseline:
          model: mobilenet_v2
          model_args: {alpha: 1.0}
          dataset: digits
          dataset_args: {size: 96, channels: 3}
          training: {epochs: 6, batch_size: 32, learning_rate: 0.001, seed: 0}
        budgets: {max_accuracy_drop: 1.0}
        calibration_samples: 100
        variant_timeout_s: 1800
        variants:
          - {name: float32, quantization: float32}
        """),
}
CONVERTER_MODES = ("float16", "dynamic", "int8", "int16x8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--models", default="digits,mobilenet")
    ap.add_argument("--rewrite", action="store_true", help="only write the .md again from the stored .json")
    args = ap.parse_args()
    results: dict[str, Any] = {"models": {}}
    done = OUT / "precision_search.json"
    if done.exists():  # models measured by an earlier call (e.g. --models mobilenet after --models digits) stay
        results["models"] = json.loads(done.read_text()).get("models", {})
    if args.rewrite:
        _write(results)
        return 0
    with tempfile.TemporaryDirectory(prefix="precision-bench-") as tmp:
        root = Path(tmp)
        for key in args.models.split(","):
            before = _machine()
            results["models"][key] = {**_one(root, key, args.trials, args.layers), "trials_asked": args.trials,
                                      "layers": args.layers, "machine": before, "machine_after": _machine()}
            _write(results)  # after each model: a long run leaves what it measured
    return 0


def _one(root: Path, key: str, trials: int, layers: int) -> dict[str, Any]:
    from workbench.analysis.pareto import budget_violations
    from workbench.baseline import cached_baseline
    from workbench.convert.quantizer import weighted_layers
    from workbench.run.precision import Measurer, run_precision_search
    from workbench.spec import load_experiment
    from workbench.variant.inputs import read_inputs

    exp = root / "experiments" / f"{key}.yaml"
    exp.parent.mkdir(parents=True, exist_ok=True)
    exp.write_text(EXPERIMENTS[key] + TARGET)
    os.chdir(root)
    wall = time.monotonic()
    r = run_precision_search(exp, work_dir=root / ".workbench", root=root, trials=trials, individual=layers,
                             log_front=False, progress=False)
    search_wall = time.monotonic() - wall
    spec = load_experiment(exp)
    inputs = read_inputs(spec, root, variants=())
    base = cached_baseline(root / ".workbench", inputs.plan.baseline_id)
    assert base is not None
    # the converter's uniform modes, from the same baseline, measured by the same protocol
    from workbench.convert import convert
    from workbench.variant.inputs import draw_calibration

    model = base.load_model()
    calib = draw_calibration(inputs.dataset, spec.calibration_samples, spec.baseline.training.seed)
    m = Measurer(base.tflite_path, weighted_layers(base.tflite_path.read_bytes()), inputs.dataset.x_test,
                 inputs.dataset.y_test, spec.target, spec.rounds, r.out_dir / "converter", spec.budgets,
                 root / ".workbench" / "locks")
    converter = [m.measure_file(convert(model, mode, calib), mode, f"converter {mode}", mode)
                 for mode in CONVERTER_MODES]
    floats = [x["float_latency_ms_p50"] for x in r.rows]
    float_row = {"variant": "float32", "origin": "float baseline", "accuracy": m.float_accuracy,
                 "accuracy_delta": 0.0, "size_bytes": len(m.float_bytes),
                 "latency_ms_p50": sorted(floats)[len(floats) // 2]}
    float_row["within_budgets"] = not budget_violations(float_row, spec.budgets)
    uniform = [x for x in r.rows if x["origin"].startswith("uniform")] + converter + [float_row]
    return {"experiment": EXPERIMENTS[key], "groups": {g.key: list(g.layers) for g in r.groups},
            "weighted_layers": sum(len(g.layers) for g in r.groups),
            "trials": r.trials, "candidates_measured": len(r.rows), "search_seconds": r.seconds,
            "wall_seconds_with_baseline": search_wall, "stopped_by": r.stopped_by, "front": r.front,
            "front_within_budgets": r.front_within, "rows": r.rows, "converter": converter, "float": float_row,
            "uniform_within_budgets": [u["variant"] for u in uniform if u.get("within_budgets")],
            "mixed_within_budgets": r.mixed_within}


def unreached(m: dict[str, Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The mixed front members no uniform mode (the search's uniform assignments, the converter's modes,
    float32) reaches on ``keys``: none is as good on every one of them. Each with the budget it meets alone.

    Both noisy axes count their noise. Accuracy is the experiment's budget: a uniform mode within its
    ``max_accuracy_drop`` reaches a member on accuracy (differences of a test sample or two, on 360 samples,
    decide nothing). Latency: a uniform mode reaches a member unless it is measurably slower, i.e. its
    speed-up over float (5 interleaved rounds, 95% interval) lies wholly below the member's; float32 itself has
    speed-up 1."""
    def speed(r: dict[str, Any]) -> tuple[float, float]:
        if r["variant"] == "float32" and "speedup_vs_float" not in r:
            return 1.0, 1.0
        v = r.get("speedup_vs_float", float("nan"))
        return r.get("speedup_vs_float_ci_low", v), r.get("speedup_vs_float_ci_high", v)

    drop = float(m["experiment"].split("max_accuracy_drop:")[1].split("}")[0])
    better = {"accuracy_delta": lambda u, r: -u["accuracy_delta"] <= drop,
              "size_bytes": lambda u, r: u["size_bytes"] <= r["size_bytes"],
              "latency_ms_p50": lambda u, r: not speed(u)[1] < speed(r)[0]}
    uniform = [x for x in m["rows"] if x["origin"].startswith("uniform")] + m["converter"] + [m["float"]]
    out = []
    for row in m["rows"]:
        if row["variant"] not in m["front"] or row["origin"].startswith("uniform") or -row["accuracy_delta"] > drop:
            continue
        if not any(all(better[k](u, row) for k in keys) for u in uniform):
            lo, hi = speed(row)
            out.append({"variant": row["variant"], "budget": {"max_accuracy_drop": drop,
                        "max_size_kb": row["size_bytes"] / 1024, **({"max_latency_ms": row["latency_ms_p50"],
                                                                     "speedup": (row.get("speedup_vs_float"), lo, hi)}
                                                                    if "latency_ms_p50" in keys else {})}})
    return out


def _machine() -> dict[str, Any]:
    return {"loadavg": os.getloadavg(), "cpus": os.cpu_count(), "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                       time.gmtime())}


def _fmt(r: dict[str, Any], front: list[str]) -> str:
    mark = "**" if r["variant"] in front else ""
    prec = ", ".join(f"{k} {v}" for k, v in sorted(r.get("precisions", {}).items()))
    sp = r.get("speedup_vs_float")
    speed = (f"{sp:.2f} [{r.get('speedup_vs_float_ci_low', sp):.2f}–{r.get('speedup_vs_float_ci_high', sp):.2f}]"
             if sp is not None else "1")
    return (f"| {mark}{r['variant']}{mark} | {r['origin']} | {prec} | {100 * r['accuracy']:.2f} | "
            f"{r['accuracy_delta']:+.2f} | {r['size_bytes'] / 1024:.1f} | {r['latency_ms_p50']:.3f} | {speed} | "
            f"{'yes' if r.get('within_budgets') else 'no'} |")


def _said(x: dict[str, Any]) -> str:
    b = x["budget"]
    lat = ""
    if "max_latency_ms" in b:
        v, lo, hi = b["speedup"]
        lat = f", p50 <= {b['max_latency_ms'] * 1000:.0f} µs (×{v:.2f} [{lo:.2f}–{hi:.2f}] float)"
    return f"{x['variant']} (drop <= {b['max_accuracy_drop']:.2f} pts, size <= {b['max_size_kb']:.1f} KB{lat})"


def _write(results: dict[str, Any]) -> None:
    OUT.mkdir(exist_ok=True)
    for m in results["models"].values():
        m["mixed_front_no_uniform_reaches"] = {
            "accuracy_size": unreached(m, ("accuracy_delta", "size_bytes")),
            "accuracy_size_p50": unreached(m, ("accuracy_delta", "size_bytes", "latency_ms_p50"))}
    (OUT / "precision_search.json").write_text(json.dumps(results, indent=1, default=str))
    lines = ["# Per-layer precision search on LiteRT", "",
             "`benchmarks/precision_search.py`: `workbench search --precision` (Optuna 5.0.0 NSGA-II, litert-quantizer "
             "0.11.0), LiteRT 1 thread, XNNPACK, 5 interleaved rounds per candidate side by side with float: "
             "× float is the speed-up over float32 (median of the rounds, 95% interval), and a latency difference "
             "counts only where those intervals do not overlap (load average below, 2 shared CPUs).", ""]
    for key, m in results["models"].items():
        lines += [f"## {key}", "",
                  f"Load average {m['machine']['loadavg'][0]:.1f} at the start, {m['machine_after']['loadavg'][0]:.1f} "
                  f"at the end ({m['machine']['time_utc']}, {m['machine']['cpus']} CPUs); the {m['layers']} most "
                  "sensitive layers decided alone.", "",
                  f"{m['weighted_layers']} weighted layers in {len(m['groups'])} groups; {m['trials']} trials, "
                  f"**{m['candidates_measured']} candidates measured** in **{m['search_seconds']:.0f} s** "
                  f"({m['wall_seconds_with_baseline']:.0f} s with the float baseline's sweep); stopped by "
                  f"{m['stopped_by']}.", "",
                  f"- within the budget ({m['experiment'].split('budgets: ')[1].splitlines()[0]}): uniform "
                  f"{', '.join(m['uniform_within_budgets']) or 'none'}; mixed {len(m['mixed_within_budgets'])}",
                  "- mixed front members no uniform mode reaches on (accuracy within the budget, size): "
                  + (", ".join(_said(x) for x in unreached(m, ("accuracy_delta", "size_bytes"))) or "none"),
                  "- ... on (accuracy within the budget, size, p50 beside float, by the speed-up's interval): "
                  + (", ".join(_said(x) for x in unreached(m, ("accuracy_delta", "size_bytes", "latency_ms_p50")))
                     or "none"), "",
                  "| variant | origin | precisions (layers) | accuracy % | Δ pts | KB | p50 ms | × float [95%] | "
                  "within budget |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [_fmt(r, m["front"]) for r in [m["float"], *m["converter"], *m["rows"]]]
        lines += ["", "**bold**: on the search's front (accuracy delta, size, p50).", ""]
    (OUT / "precision_search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
