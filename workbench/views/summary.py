"""What a manager reads: the answer to "which variant do we ship, and what does it cost?" as one paragraph, the
experiment's description, and numbers in the units a person reads (µs or ms, KB or MB). Pure: rows and the spec
in, text out; the sweep logs the text as MLflow descriptions and ``workbench run`` prints it.
"""

from __future__ import annotations

from typing import Any

from workbench.analysis.pareto import budget_violations
from workbench.catalog import display_name
from workbench.catalog.metrics import fmt_bytes, fmt_ms
from workbench.spec import ExperimentSpec

__all__ = ["SHIP_RULE", "experiment_description", "fmt_budgets", "fmt_bytes", "fmt_ms", "plain", "recommendation",
           "target_words"]

SHIP_RULE = "the most accurate variant within every budget, ties broken by latency"


def fmt_budgets(spec: ExperimentSpec) -> str:
    """The experiment's budgets in words, e.g. ``accuracy drop ≤ 1 pt, size ≤ 40 KB``; ``none`` when unset."""
    b = spec.budgets
    parts = []
    if b.max_accuracy_drop is not None:
        parts.append(f"accuracy drop ≤ {b.max_accuracy_drop:g} pts")
    if b.max_size_kb is not None:
        parts.append(f"size ≤ {b.max_size_kb:g} KB")
    if b.max_latency_ms is not None:
        parts.append(f"p50 latency ≤ {fmt_ms(b.max_latency_ms)}")
    if b.max_memory_mb is not None:
        parts.append(f"peak memory ≤ {b.max_memory_mb:g} MB")
    return ", ".join(parts) or "none set"


def target_words(spec: ExperimentSpec) -> str:
    """Where the latency was measured, e.g. ``LiteRT, 1 thread, XNNPACK``."""
    t = spec.target
    parts = [display_name(t.runtime), f"{t.threads} thread{'s' if t.threads != 1 else ''}"]
    if t.runtime == "litert":
        parts.append("XNNPACK" if t.xnnpack else "no XNNPACK")
    if t.accelerator != "cpu":
        parts.append(t.accelerator)
    if t.host:
        parts.append(f"on {t.host}")
    return ", ".join(parts)


def _ratio(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and v == v and v > 0 else None


def recommendation(spec: ExperimentSpec, rows: list[dict[str, Any]], rec: dict[str, Any] | None,
                   why_none: list[str], dashboard_link: str = "", dataset: str = "") -> str:
    """One markdown paragraph: the variant to ship, its accuracy cost, its size and latency against float (from
    its own ``compression_ratio`` and ``speedup_vs_float``, both measured against the float baseline), the
    budgets, what it was measured on and a link to the dashboard. Without a recommendation: why none fits."""
    measured = [r for r in rows if isinstance(r.get("accuracy"), float)]
    link = f" Full comparison: [dashboard]({dashboard_link})." if dashboard_link else ""
    on = f" Measured on {target_words(spec)}" + (f", dataset {dataset}" if dataset else "") + "."
    if rec is None:
        closest = "; ".join(why_none) or "no variant was measured"
        return (f"**No variant meets every budget** ({fmt_budgets(spec)}) among the {len(measured)} measured: "
                f"nothing is recommended. Closest: {closest}.{on}{link}")
    delta = float(rec.get("accuracy_delta", 0.0))
    cost = (f"{-delta:.2f} pts below float32" if delta < 0 else f"{delta:.2f} pts above float32" if delta > 0
            else "the same as float32")
    size = float(rec.get("size_bytes", float("nan")))
    p50 = float(rec.get("latency_ms_p50", float("nan")))
    ratio, speedup = _ratio(rec.get("compression_ratio")), _ratio(rec.get("speedup_vs_float"))
    size_txt = (f"{fmt_bytes(size)} instead of {fmt_bytes(size * ratio)} ({ratio:.1f}× smaller)" if ratio
                else fmt_bytes(size))
    lat_txt = (f"p50 latency {fmt_ms(p50)} instead of {fmt_ms(p50 * speedup)} "
               f"({speedup:.2f}× {'faster' if speedup >= 1 else 'the time'})" if speedup else f"p50 latency {fmt_ms(p50)}")
    fits = sum(1 for r in measured if not budget_violations(r, spec.budgets))
    return (f"**Ship `{rec['variant']}`** ({rec.get('technique', '')}): accuracy {float(rec['accuracy']) * 100:.2f}% "
            f"({cost}), {size_txt}, {lat_txt}. Budgets: {fmt_budgets(spec)}; {fits} of the {len(measured)} "
            f"measured variants meet them, and this is {SHIP_RULE}.{on}{link}")


def experiment_description(spec: ExperimentSpec, variants: int) -> str:
    """The experiment's description: what it compares and how to read the runs."""
    what = spec.description.strip() or f"Compressed variants of the `{spec.baseline.model}` baseline"
    return (f"{what.rstrip('.')}. **{variants} variants** of one float baseline, each converted to a deployable "
            f"model and measured on {target_words(spec)}: accuracy on the test split, file size, p50 latency, "
            f"peak memory. Budgets: {fmt_budgets(spec)}.\n\n"
            "How to read it: each **sweep** run is one night's (or one command's) comparison: its description "
            "says which variant to ship and what it costs, its artifacts hold `pareto.png` (accuracy against "
            "latency and size) and `dashboard.html` (every variant, sortable). The variant runs sit under it. "
            "`accuracy_delta` is in percentage points against float32, `size_bytes` in bytes, `latency_ms_*` in "
            "milliseconds. Runs named `(ad-hoc)` come from a notebook or the explorer, not from a sweep, and are "
            "never recommended. What ships is the `recommended` alias of the registered model "
            f"`{spec.name}` (Models).")


def plain(md: str) -> str:
    """The paragraph for a terminal: no markdown emphasis, no sentence whose link only works inside the MLflow UI."""
    import re

    text = re.sub(r"\s*[^.]*\]\(#[^)]*\)\.", "", md)
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("**", "").replace("`", "")
