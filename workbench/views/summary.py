"""What a manager reads: the answer to "which variant do we ship, and what does it cost?" as one paragraph, the
experiment's description, and numbers in the units a person reads (µs or ms, KB or MB). Pure: rows and the spec
in, text out; the sweep logs the text as MLflow descriptions and ``workbench run`` prints it.
"""

from __future__ import annotations

from typing import Any

from workbench.analysis.pareto import budget_violations
from workbench.analysis.significance import CHANCE
from workbench.catalog import display_name
from workbench.catalog.metrics import FIDELITY, Metric, delta_name, fmt_bytes, fmt_ms, metric, worsening
from workbench.profile.stats import payoff
from workbench.spec import ExperimentSpec

__all__ = ["SHIP_RULE", "experiment_description", "fmt_budgets", "fmt_bytes", "fmt_ms", "plain", "recommendation",
           "regression_words", "target_words"]

SHIP_RULE = ("the most accurate variant within every budget, then the fastest; differences inside the noise are "
             "ties, broken towards the simpler deployment")


def ship_rule(primary: Metric) -> str:
    """``SHIP_RULE`` for the task's primary metric."""
    if primary.name in FIDELITY:  # a floor, not a goal: float32 itself is the most faithful
        return (f"the fastest variant within every budget ({primary.label} against float32 is a floor); "
                "differences inside the noise are ties, broken towards the simpler deployment")
    return SHIP_RULE if primary.name == "accuracy" else SHIP_RULE.replace(
        "the most accurate variant", f"the variant with the best {primary.label}")


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
    parts += [f"{name} at most {limit:g} worse than float32" for name, limit in b.max_delta.items()]
    parts += [f"{name} {'≥' if _better(name, spec) == 'max' else '≤'} {limit:g}" for name, limit in b.worst.items()]
    return ", ".join(parts) or "none set"


def _better(name: str, spec: ExperimentSpec) -> str | None:
    primary = spec.task.primary_metric()
    try:
        return primary.better if name == primary.name else metric(name).better
    except KeyError:
        return None


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


def _num(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    return float(v) if isinstance(v, int | float) and v == v else None


def accuracy_words(row: dict[str, Any]) -> str:
    """``accuracy 95.00% (95% interval 93.1-96.4%, 360 test samples), 0.28 pts below float32 (no measurable
    difference: 1 sample lost, 0 gained, McNemar p = 1.00)``; without intervals, the plain figures."""
    acc, lo, hi, n = (_num(row, k) for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "test_samples"))
    text = f"accuracy {(acc or 0.0) * 100:.2f}%"
    if lo is not None and hi is not None:
        samples = f", {n:.0f} test sample{'s' if n != 1 else ''}" if n is not None else ""
        text += f" (95% interval {lo * 100:.1f}-{hi * 100:.1f}%{samples})"
    delta = _num(row, "accuracy_delta") or 0.0
    cost = (f"{-delta:.2f} pts below float32" if delta < 0 else f"{delta:.2f} pts above float32" if delta > 0
            else "the same as float32")
    p, lost, gained = _num(row, "accuracy_delta_p"), _num(row, "accuracy_lost"), _num(row, "accuracy_gained")
    if p is not None and delta != 0:
        real = "a real difference" if p < 0.05 else "no measurable difference"
        cost += f" ({real}: {lost or 0:.0f} lost, {gained or 0:.0f} gained against float32, McNemar p = {p:.2f})"
    return f"{text}, {cost}"


def quality_words(row: dict[str, Any], primary: Metric) -> str:
    """The task's primary metric in words: ``accuracy_words`` for accuracy, else ``mae 0.412, 0.003 worse than
    float32 (mae 0.409)``."""
    if primary.name == "accuracy":
        return accuracy_words(row)
    value, d = _num(row, primary.name), _num(row, delta_name(primary.name))
    if value is None:
        return f"{primary.label} -"
    text = f"{primary.label} {primary.cell(value)}"
    if primary.name in FIDELITY:  # measured against float32 already
        return f"{text} against float32"
    if d is None:
        return text
    worse = worsening(primary, d)
    how = "the same as" if worse == 0 else f"{abs(worse):.4g} {'worse' if worse > 0 else 'better'} than"
    base = value - d if primary.unit != "fraction" else value - d / 100
    return f"{text}, {how} float32 ({primary.label} {primary.cell(base)})"


def latency_words(row: dict[str, Any]) -> str:
    """The p50 against float32 measured side by side, in the same rounds, with the speed-up's interval:
    ``p50 latency 3.30 ms vs float32 7.20 ms measured side by side (2.18× faster, 95% interval 2.05-2.31×)``."""
    p50 = _num(row, "latency_ms_p50")
    speedup, ref = _ratio(row.get("speedup_vs_float")), _num(row, "float_latency_ms_p50")
    if p50 is None:
        return "p50 latency -"
    if speedup is None:
        return f"p50 latency {fmt_ms(p50)}"
    lo, hi = _num(row, "speedup_vs_float_ci_low"), _num(row, "speedup_vs_float_ci_high")
    word = payoff(speedup, lo, hi)
    how = (f"{speedup:.2f}× faster" if speedup >= 1 else f"{speedup:.2f}× the speed") if word != (
        "no measurable difference") else f"no measurable difference, ×{speedup:.2f}"
    interval = f", 95% interval {lo:.2f}-{hi:.2f}×" if lo is not None and hi is not None else ""
    if ref is None:  # logged before the float figure was recorded: the ratio is still from one pair
        return f"p50 latency {fmt_ms(p50)} instead of {fmt_ms(p50 * speedup)} ({how}{interval})"
    return f"p50 latency {fmt_ms(p50)} vs float32 {fmt_ms(ref)} measured side by side ({how}{interval})"


def tie_words(rec: dict[str, Any]) -> str:
    """`` int8 and int8_io: no measurable difference (p50 3.70 vs 3.75 µs, accuracy 98.1% vs 98.1%, within
    noise); int8 chosen: float I/O needs no integration step.`` or ``""`` when no tie decided."""
    tied = rec.get("tied_with") or []
    if not tied:
        return ""
    names = " and ".join([f"`{rec['variant']}`", *(f"`{t['variant']}`" for t in tied)])
    p50s = " vs ".join(fmt_ms(float(r.get("latency_ms_p50") or float("nan"))) for r in [rec, *tied])
    accs = " vs ".join(f"{float(r.get('accuracy') or 0.0) * 100:.2f}%" for r in [rec, *tied])
    return (f" {names}: no measurable difference (p50 {p50s}; accuracy {accs}: within noise); "
            f"`{rec['variant']}` chosen: {rec.get('tie_reason', 'simpler deployment')}.")


def recommendation(spec: ExperimentSpec, rows: list[dict[str, Any]], rec: dict[str, Any] | None,
                   why_none: list[str], dashboard_link: str = "", dataset: str = "") -> str:
    """One markdown paragraph: the variant to ship, its accuracy and cost (with their noise), its size and
    latency against float (the float p50 from the same interleaved rounds as the variant's), a tie the noise
    decided and why, the budgets, what it was measured on and a link to the dashboard. Without a
    recommendation: why none fits."""
    primary = spec.task.primary_metric()
    measured = [r for r in rows if isinstance(r.get(primary.name), float)]
    # the link comes right after the answer: the MLflow UI folds a long description under a gradient
    link = f" Full comparison: [dashboard]({dashboard_link})." if dashboard_link else ""
    on = f" Measured on {target_words(spec)}" + (f", dataset {dataset}" if dataset else "") + "."
    if spec.baseline.is_user_model:  # which model float32 is: the user's as given, or retrained from it
        on += f" Float reference: {spec.baseline.training_words()}."
    chance = next((line.strip() for r in rows for line in str(r.get("notes", "")).splitlines() if CHANCE in line), "")
    # said first: every number after it compares variants of a model that learned nothing
    caution = f"**Caution**: {chance[0].upper()}{chance[1:].rstrip('.')}. " if chance else ""
    if rec is None:
        closest = "; ".join(why_none) or "no variant was measured"
        return (f"{caution}**No variant meets every budget** ({fmt_budgets(spec)}) among the {len(measured)} measured: "
                f"nothing is recommended.{link} Closest: {closest}.{on}")
    size = float(rec.get("size_bytes", float("nan")))
    ratio = _ratio(rec.get("compression_ratio"))
    size_txt = (f"{fmt_bytes(size)} instead of {fmt_bytes(size * ratio)} ({ratio:.1f}× smaller)" if ratio
                else fmt_bytes(size))
    fits = sum(1 for r in measured if not budget_violations(r, spec.budgets, primary))
    return (f"{caution}**Ship `{rec['variant']}`** ({rec.get('technique', '')}).{link} Measured: {quality_words(rec, primary)}, "
            f"{size_txt}, {latency_words(rec)}.{tie_words(rec)} Budgets: {fmt_budgets(spec)}; {fits} of the "
            f"{len(measured)} measured variants meet them, and this is {ship_rule(primary)}.{on}")


def regression_words(regressions: list[dict[str, str]], compared_to: str, standing: str | None,
                     tonight: str | None) -> str:
    """The sentence a sweep with regressions starts with: what got worse against which sweep, and that the
    recommendation is held (``standing``: what ships now; ``tonight``: what this sweep alone would pick)."""
    n = len(regressions)
    against = f" against sweep {compared_to}" if compared_to else ""
    what = "; ".join(f"{r['variant']}: {r['what']}" for r in regressions[:6]) + ("; …" if n > 6 else "")
    keep = (f"the `recommended` alias and tag stay on `{standing}`" if standing
            else "nothing is recommended")
    pick = f" (this sweep alone would pick `{tonight}`)" if tonight and tonight != standing else ""
    return (f"**{n} regression{'s' if n != 1 else ''}{against}: recommendation held.** {what}. Until a sweep "
            f"compares clean (or runs without `--compare-to`), {keep}{pick}. This sweep's own reading:")


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
