"""The sweep's decision, pure: measured rows and budgets in, a ``Recommendation`` out (the chosen row or None,
why none fits, and the Pareto fronts, each computed once here for the dashboard, the PNG and ``pareto.json``).
Publishing it (registry alias, run names and tags) is the settle step's job (``workbench.run.settle``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.analysis.pareto import ACCURACY, fronts_for, pareto_front, recommend, runtime_pairs
from workbench.catalog.metrics import Metric

Row = dict[str, Any]
MEASURED = ("FINISHED", "SKIPPED")  # a row with numbers: measured now, or reused from an earlier sweep


@dataclass(frozen=True)
class Recommendation:
    """What a sweep decided.

    ``candidates``: the rows decided over (the measured variants, or (variant, runtime) pairs when the sweep
    measured more than one runtime); ``variants``: the measured variant rows; ``pairs``: every (variant,
    runtime) pair, failed ones too; ``front_latency`` / ``front_size``: names of the candidates on the
    accuracy-latency and accuracy-size fronts; ``variant_front``: the variants on the accuracy-latency front
    (the table's column; the same as ``front_latency`` on one runtime)."""

    chosen: Row | None
    reasons: tuple[str, ...]
    candidates: tuple[Row, ...]
    variants: tuple[Row, ...]
    pairs: tuple[Row, ...]
    front_latency: tuple[str, ...]
    front_size: tuple[str, ...]
    variant_front: tuple[str, ...]
    primary: Metric = ACCURACY  # what ranked them: the task's primary metric

    @property
    def variant(self) -> str | None:
        """The chosen candidate's name (``"<variant> @ <runtime>"`` over pairs), None when none fits."""
        return str(self.chosen["variant"]) if self.chosen is not None else None

    @property
    def run_id(self) -> str | None:
        return str(self.chosen["run_id"]) if self.chosen is not None and self.chosen.get("run_id") else None

    @property
    def runtimes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p["runtime"] for p in self.pairs))

    @property
    def multi_runtime(self) -> bool:
        return len(self.runtimes) > 1

    def fronts(self) -> dict[str, Any]:
        """What ``pareto.json`` records."""
        return {"pareto_accuracy_latency": list(self.front_latency), "pareto_accuracy_size": list(self.front_size),
                "recommended": self.variant, "why_none": list(self.reasons),
                "primary_metric": self.primary.name}  # the fronts' quality axis (the keys say accuracy, as ever)


def measured_rows(rows: Sequence[Row], primary: str = "accuracy") -> list[Row]:
    """The rows with a measurement: FINISHED or SKIPPED (reused) and a value of the ``primary`` metric."""
    return [r for r in rows if r.get("status") in MEASURED and isinstance(r.get(primary), float)]


def axis_runtimes(profiles: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Profile axes (an experiment's ``profiles``) that put the variant on another runtime's CPU: axis -> runtime."""
    return {p["name"]: p["runtime"] for p in profiles if "runtime" in p and p.get("accelerator", "cpu") == "cpu"}


def decide(rows: Sequence[Row], budgets: Any, default_runtime: str,
           axis_runtimes: Mapping[str, str] | None = None, primary: Metric = ACCURACY) -> Recommendation:
    """Pick what to ship among ``rows`` (a sweep's summary rows with their metrics) under ``budgets``, by the
    task's ``primary`` metric: ``analysis.pareto.recommend`` over the measured variants, or over (variant,
    runtime) pairs when profile axes put the variants on more than one runtime (``axis_runtimes``: axis ->
    runtime)."""
    by_latency, by_size = fronts_for(primary)
    variants = measured_rows(rows, primary.name)
    pairs = runtime_pairs(variants, default_runtime, dict(axis_runtimes or {}))
    candidates = variants
    multi = len({p["runtime"] for p in pairs}) > 1
    if multi:
        candidates = [p for p in pairs if p.get("status") != "FAILED" and isinstance(p.get(primary.name), float)
                      and isinstance(p.get("latency_ms_p50"), float)]
    chosen, why = recommend(candidates, budgets, primary)
    front_latency = tuple(pareto_front(candidates, by_latency))
    variant_front = tuple(pareto_front(variants, by_latency)) if multi else front_latency
    return Recommendation(chosen, tuple(why), tuple(candidates), tuple(variants), tuple(pairs), front_latency,
                          tuple(pareto_front(candidates, by_size)), variant_front, primary)
