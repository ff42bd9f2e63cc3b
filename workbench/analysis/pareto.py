"""Pareto fronts and the recommended variant: pure functions over metric rows (dicts), no MLflow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.analysis.ties import choose
from workbench.catalog.metrics import AXIS_METRICS, METRICS, Metric, delta_name, metric, objectives, worsening
from workbench.profile.stats import payoff

Objective = tuple[str, str]  # (metric, "max" | "min")
ACC_VS_LATENCY: tuple[Objective, ...] = objectives("accuracy", "latency_ms_p50")  # directions from the catalogue
ACC_VS_SIZE: tuple[Objective, ...] = objectives("accuracy", "size_bytes")
ACCURACY = METRICS["accuracy"]  # the primary metric unless the experiment's task names another


def fronts_for(primary: Metric) -> tuple[tuple[Objective, ...], tuple[Objective, ...]]:
    """The (primary vs latency, primary vs size) objectives: the primary's better direction from its record."""
    if primary.better is None:
        raise ValueError(f"metric '{primary.name}' has no better direction: it cannot be a Pareto objective")
    return ((primary.name, primary.better), ACC_VS_LATENCY[1]), ((primary.name, primary.better), ACC_VS_SIZE[1])


def _better_or_equal(a: dict[str, Any], b: dict[str, Any], objectives: Sequence[Objective]) -> bool:
    return all((a[m] >= b[m]) if d == "max" else (a[m] <= b[m]) for m, d in objectives)


def dominates(a: dict[str, Any], b: dict[str, Any], objectives: Sequence[Objective]) -> bool:
    """a is at least as good as b everywhere and strictly better somewhere."""
    return _better_or_equal(a, b, objectives) and any(a[m] != b[m] for m, _ in objectives)


def pareto_front(rows: Sequence[dict[str, Any]], objectives: Sequence[Objective] = ACC_VS_LATENCY) -> list[str]:
    """Names (``variant``) of the rows no other row dominates; rows missing a metric are ignored."""
    usable = [r for r in rows if all(isinstance(r.get(m), int | float) for m, _ in objectives)]
    return [r["variant"] for r in usable if not any(dominates(o, r, objectives) for o in usable if o is not r)]


def budget_violations(row: dict[str, Any], budgets: Any, primary: Metric = ACCURACY) -> list[str]:
    """Which budgets (from the experiment's ``budgets``) this row breaks, as readable phrases. ``max_delta``
    limits how much worse than float each named metric's ``<name>_delta`` may be, ``worst`` the worst value a
    metric may take (``primary``: the task's primary metric, a user's one included; the others are the
    catalogue's)."""
    out = []
    for name, limit in getattr(budgets, "max_delta", {}).items():
        d = row.get(delta_name(name))
        worse = worsening(primary if name == primary.name else metric(name), d) if isinstance(d, int | float) else 0.0
        if worse > limit:
            out.append(f"max_delta {name} {limit:g} (worse by {worse:.4g})")
    for name, limit in getattr(budgets, "worst", {}).items():
        v = row.get(name)
        try:
            better = primary.better if name == primary.name else metric(name).better
        except KeyError:  # a user metric of another output: its direction is the task's, not the catalogue's
            continue
        if not isinstance(v, int | float):
            out.append(f"worst {name} {limit:g} (not measured)")
        elif not (v >= limit if better == "max" else v <= limit):  # NaN (undefined) fails too
            out.append(f"worst {name} {limit:g} ({'below' if better == 'max' else 'above'} it: {v:.4g})")
    if budgets.max_accuracy_drop is not None and row.get("accuracy_delta", 0.0) < -budgets.max_accuracy_drop:
        out.append(f"max_accuracy_drop {budgets.max_accuracy_drop:g} pts (drop {-row['accuracy_delta']:.2f})")
    if budgets.max_latency_ms is not None and row.get("latency_ms_p50", 0.0) > budgets.max_latency_ms:
        out.append(f"max_latency_ms {budgets.max_latency_ms:g} (p50 {row['latency_ms_p50']:.3f})")
    if budgets.max_size_kb is not None and row.get("size_bytes", 0.0) / 1024 > budgets.max_size_kb:
        out.append(f"max_size_kb {budgets.max_size_kb:g} (size {row['size_bytes'] / 1024:.1f})")
    if budgets.max_memory_mb is not None and row.get("memory_mb_peak", 0.0) > budgets.max_memory_mb:
        out.append(f"max_memory_mb {budgets.max_memory_mb:g} (peak {row['memory_mb_peak']:.1f})")
    return out


def recommend(rows: Sequence[dict[str, Any]], budgets: Any,
              primary: Metric = ACCURACY) -> tuple[dict[str, Any] | None, list[str]]:
    """Best ``primary`` metric (accuracy unless the task names another) within every budget, then lower
    latency; differences inside the noise are ties (``ties.tied``), broken towards the simpler deployment
    (``ties.simplicity``).

    Returns (row, []) or (None, explanations naming the budgets that excluded the closest candidates). The
    row is a copy; when a tie decided, its ``tie_note`` says with whom and why (for the recommendation).
    """
    name, sign = primary.name, (1.0 if primary.better == "max" else -1.0)
    measured = [r for r in rows if isinstance(r.get(name), int | float)]
    fits = [r for r in measured if not budget_violations(r, budgets, primary)]
    if fits:
        return choose(fits, primary), []
    closest = sorted(measured, key=lambda r: (len(budget_violations(r, budgets, primary)), -sign * r[name]))[:3]
    return None, [f"{r['variant']}: exceeds {'; '.join(budget_violations(r, budgets, primary))}" for r in closest]


#: the per-measurement metrics a profile axis logs as ``<metric>.<axis>``
_AXIS_METRICS = AXIS_METRICS


def runtime_pairs(rows: Sequence[dict[str, Any]], default_runtime: str,
                  axis_runtimes: dict[str, str]) -> list[dict[str, Any]]:
    """One row per (variant, runtime): each variant's main measurement, and each profile axis that runs it
    on another runtime (``axis_runtimes``: axis name -> runtime), with that axis's ``<metric>.<axis>``
    values under the plain metric names. ``variant`` becomes ``"<variant> @ <runtime>"`` (so the Pareto
    front and the recommendation are over pairs); ``base_variant``, ``runtime`` and ``axis`` say what it is.
    A pair whose axis was not measured carries ``status`` FAILED and the ``reason`` the run recorded in
    ``axes_status`` (axis -> "FINISHED" | "FAILED: why")."""
    out = []
    for r in rows:
        runtime = r.get("runtime") or default_runtime
        out.append({**r, "variant": f"{r['variant']} @ {runtime}", "base_variant": r["variant"], "runtime": runtime,
                    "axis": ""})
        for axis, axis_runtime in axis_runtimes.items():
            if axis_runtime == runtime:
                continue
            pair: dict[str, Any] = {k: r[k] for k in ("variant_id", "technique", "status", "reason", "run_id", "params") if k in r}
            pair.update({m: r[f"{m}.{axis}"] for m in _AXIS_METRICS if f"{m}.{axis}" in r})
            # and the task's metrics on that runtime (``mae.<axis>``, ``iou_delta.<axis>``, ...)
            pair.update({k.removesuffix(f".{axis}"): v for k, v in r.items()
                         if k.endswith(f".{axis}") and k.removesuffix(f".{axis}") not in pair})
            pair.update({"variant": f"{r['variant']} @ {axis_runtime}", "base_variant": r["variant"],
                         "runtime": axis_runtime, "axis": axis})
            status = str(r.get("axes_status", {}).get(axis, ""))
            if "latency_ms_p50" not in pair and r.get("status") in ("FINISHED", "SKIPPED"):
                pair["status"] = "FAILED"
                pair["reason"] = status.removeprefix("FAILED: ") or f"axis '{axis}' has no measurement"
            out.append(pair)
    return out


def runtime_payoff(pairs: Sequence[dict[str, Any]]) -> list[str]:
    """Variants whose speed-up over float32 goes one way on some runtime and the other way on another:
    "dyn: pays off on litert (x1.54, 1.48-1.60), not on onnxruntime (x0.35, 0.33-0.37)" (speed-up = float32
    p50 / variant p50 on the same runtime, measured side by side; "pays off" is ``stats.payoff``)."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        if isinstance(p.get("speedup_vs_float"), int | float) and p.get("axis") is not None:
            by_variant.setdefault(p["base_variant"], []).append(p)
    out = []
    for variant, ps in by_variant.items():
        yes = [_speedup_words(p) for p in ps if _pays_off(p)]
        no = [_speedup_words(p) for p in ps if not _pays_off(p)]
        if yes and no:
            out.append(f"{variant}: pays off on {', '.join(yes)}, not on {', '.join(no)}")
    return out


def _pays_off(row: dict[str, Any]) -> bool:
    return payoff(row["speedup_vs_float"], row.get("speedup_vs_float_ci_low"),
                  row.get("speedup_vs_float_ci_high")) == "pays off"


def _speedup_words(row: dict[str, Any]) -> str:
    lo, hi = row.get("speedup_vs_float_ci_low"), row.get("speedup_vs_float_ci_high")
    interval = f", {lo:.2f}-{hi:.2f}" if isinstance(lo, int | float) and isinstance(hi, int | float) else ""
    return f"{row['runtime']} (x{row['speedup_vs_float']:.2f}{interval})"
