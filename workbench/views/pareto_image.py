"""The Pareto chart as a PNG (matplotlib, Agg; no browser and no plotly image export needed), so MLflow's artifact
view and run comparisons show it without opening HTML: accuracy against p50 latency (log axis) and against size,
the Pareto front joined, budgets as red dashed lines, the recommended variant starred.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from workbench.analysis.recommend import Recommendation
from workbench.catalog.metrics import fmt_ms
from workbench.spec import ExperimentSpec

GREY, FRONT, BUDGET, STAR = "#9a9a9a", "#1f77b4", "#d62728", "#2ca02c"


def _panel(ax: Any, rows: Sequence[dict[str, Any]], x: str, front_names: Sequence[str], spec: ExperimentSpec,
           recommended: str | None) -> None:
    from matplotlib.ticker import FuncFormatter

    scale = (lambda v: v / 1024.0) if x == "size_bytes" else (lambda v: v)
    primary = spec.task.primary_metric()  # accuracy in %, or the task's primary metric in its unit
    name, k = primary.name, 100.0 if primary.name == "accuracy" else 1.0
    pts = [r for r in rows if isinstance(r.get(name), float) and isinstance(r.get(x), float) and r[x] > 0]
    front = set(front_names)
    for r in pts:
        on = r["variant"] in front
        ax.scatter(scale(r[x]), r[name] * k, s=60 if on else 30, color=FRONT if on else GREY, zorder=3)
        ax.annotate(r["variant"], (scale(r[x]), r[name] * k), textcoords="offset points", xytext=(4, 4),
                    fontsize=7, color="#222" if on else "#666")
    line = sorted((r for r in pts if r["variant"] in front), key=lambda r: r[x])
    ax.plot([scale(r[x]) for r in line], [r[name] * k for r in line], ":", color=FRONT, zorder=2)
    rec = next((r for r in pts if r["variant"] == recommended), None)
    if rec is not None:
        ax.scatter(scale(rec[x]), rec[name] * k, marker="*", s=260, color=STAR, zorder=4,
                   label=f"recommended: {rec['variant']}")
        ax.legend(loc="best", fontsize=8)
    b = spec.budgets
    base = next((r["accuracy"] * 100 - r.get("accuracy_delta", 0.0) for r in pts), None) if k == 100.0 else None
    if b.max_accuracy_drop is not None and base is not None:
        ax.axhline(base - b.max_accuracy_drop, color=BUDGET, ls="--", lw=1)
        ax.annotate(f"max accuracy drop {b.max_accuracy_drop:g} pts", (0.01, base - b.max_accuracy_drop),
                    xycoords=("axes fraction", "data"), fontsize=7, color=BUDGET, va="bottom")
    limit = b.max_latency_ms if x == "latency_ms_p50" else b.max_size_kb if x == "size_bytes" else None
    if limit is not None:
        ax.axvline(limit, color=BUDGET, ls="--", lw=1)
    if x == "latency_ms_p50":
        values = [r[x] for r in pts] + ([limit] if limit else [])
        wide = bool(values) and max(values) / min(values) > 10  # a log axis only pays when decades apart
        if wide:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_ms(v) if v > 0 else ""))
        ax.set_xlabel("p50 latency" + (" (log scale)" if wide else "") + (f"; budget {fmt_ms(limit)}" if limit else ""))
    else:
        ax.set_xlabel("size (KB)" + (f"; budget {limit:g} KB" if limit else ""))
    ax.set_ylabel("accuracy (%)" if k == 100.0 else primary.title)
    ax.grid(True, alpha=0.3)


def pareto_png(rec: Recommendation, spec: ExperimentSpec, title: str) -> bytes:
    """Two panels (accuracy vs p50 latency, accuracy vs size) of the candidates ``rec`` decided over, its fronts
    joined and its choice starred, as PNG bytes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.8), dpi=100, layout="constrained")
    left, right = fig.subplots(1, 2)
    _panel(left, rec.candidates, "latency_ms_p50", rec.front_latency, spec, rec.variant)
    _panel(right, rec.candidates, "size_bytes", rec.front_size, spec, rec.variant)
    left.set_title("accuracy vs latency", fontsize=10)
    right.set_title("accuracy vs size", fontsize=10)
    fig.suptitle(title, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
