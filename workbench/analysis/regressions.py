"""Nightly comparison rules: what got worse since the previous sweep, and the one line that says what was
compared. Pure functions over metric dicts; ``workbench.run.compare`` reads the runs and re-measures.

Latency against last night is a ratio measured side by side: last night's file and tonight's are profiled
in interleaved rounds (``profile.paired``) before a latency regression is called. The same file (same
SHA-256) is a tie by definition. Two p50s taken a day apart are never compared: when last night's file
cannot be had, the comparison line says the latency was not re-measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.catalog.metrics import METRICS, Metric, delta, worsening
from workbench.profile.stats import Ratio

#: exit status of a nightly comparison that matched no variant of the previous sweep
EXIT_NOTHING_COMPARED = 4


def accuracy_regression(cur: dict[str, float], prev: dict[str, float], rules: Any,
                        primary: Metric = METRICS["accuracy"]) -> list[str]:
    """An accuracy drop beyond ``max_accuracy_drop_pts`` (the same test samples both nights: a deterministic
    figure, not a sample of a noisy one); another ``primary`` metric (the task's) getting worse than last
    night by more than ``max_delta[<name>]`` (its unit; default 0)."""
    if primary.name != "accuracy":
        return _primary_regression(cur, prev, rules, primary)
    if "accuracy" not in cur or "accuracy" not in prev:
        return []
    drop = (prev["accuracy"] - cur["accuracy"]) * 100
    if drop <= rules.max_accuracy_drop_pts:
        return []
    return [f"accuracy down {drop:.2f} points ({prev['accuracy']:.4f} -> {cur['accuracy']:.4f})"]


def _primary_regression(cur: dict[str, float], prev: dict[str, float], rules: Any, primary: Metric) -> list[str]:
    name = primary.name
    if name not in cur or name not in prev:
        return []
    worse = worsening(primary, delta(primary, cur[name], prev[name]))
    if worse <= getattr(rules, "max_delta", {}).get(name, 0.0):
        return []
    return [f"{name} worse by {worse:.4g} ({prev[name]:.4g} -> {cur[name]:.4g})"]


def latency_regression(side_by_side: Ratio, rules: Any) -> list[str]:
    """A slowdown from last night's file to tonight's, measured side by side (``side_by_side`` = last night's
    p50 / tonight's, per round): a regression when even the interval's high end is slower than
    ``min_latency_rise`` allows."""
    limit = 1.0 / (1.0 + rules.min_latency_rise)
    high = side_by_side.ci_high if side_by_side.ci_high == side_by_side.ci_high else side_by_side.value
    if high >= limit:
        return []
    rise = 1.0 / side_by_side.value - 1.0
    interval = (f", 95% interval x{side_by_side.ci_low:.2f}-{side_by_side.ci_high:.2f}"
                if side_by_side.ci_low == side_by_side.ci_low else "")
    return [f"latency p50 up {rise * 100:.1f}% against last night's file measured side by side "
            f"(x{side_by_side.value:.2f} over {side_by_side.rounds} rounds{interval})"]


def size_regression(cur: dict[str, float], prev: dict[str, float], rules: Any) -> list[str]:
    """Any change of the file's size beyond ``max_size_change`` (relative)."""
    if "size_bytes" not in cur or "size_bytes" not in prev or not prev["size_bytes"]:
        return []
    change = (cur["size_bytes"] - prev["size_bytes"]) / prev["size_bytes"]
    if abs(change) <= rules.max_size_change:
        return []
    return [f"size changed {change * 100:+.2f}% ({prev['size_bytes']:.0f} -> {cur['size_bytes']:.0f} bytes)"]


def regressions_between(cur: dict[str, float], prev: dict[str, float], rules: Any,
                        side_by_side: Ratio | None = None, primary: Metric = METRICS["accuracy"]) -> list[str]:
    """What got worse from ``prev`` to ``cur`` (metric dicts of one variant): the task's ``primary`` metric
    (accuracy by default), size, and latency only from a side-by-side re-measurement (``side_by_side``; None:
    latency not judged)."""
    found = accuracy_regression(cur, prev, rules, primary)
    if side_by_side is not None:
        found += latency_regression(side_by_side, rules)
    return found + size_regression(cur, prev, rules)


@dataclass
class Comparison:
    """What a nightly comparison compared, and what it found."""

    previous: str  # the previous sweep's id ("" when there is none)
    started: str  # its start, "YYYY-MM-DD HH:MM" (UTC)
    total: int  # tonight's measured variants
    compared: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # no variant with the same id last night
    same_file: list[str] = field(default_factory=list)  # same SHA-256: latency a tie by definition
    remeasured: list[str] = field(default_factory=list)  # latency re-measured side by side
    not_remeasured: dict[str, str] = field(default_factory=dict)  # variant -> why its latency was not judged
    regressions: list[dict[str, str]] = field(default_factory=list)

    @property
    def matched_nothing(self) -> bool:
        """A previous sweep existed and no variant of tonight's matched one of its variants."""
        return bool(self.previous) and self.total > 0 and not self.compared


def comparison_line(c: Comparison) -> str:
    """``compared 3 of 4 variants with sweep X (started 2026-11-29 02:30): 1 regression; no match: a; ...``,
    or a WARNING when a previous sweep existed and nothing matched."""
    if not c.previous:
        return f"compared 0 of {c.total} variants: no previous successful sweep to compare with"
    k = len(c.regressions)
    head = (f"compared {len(c.compared)} of {c.total} variants with sweep {c.previous} (started {c.started}): "
            f"{k} regression{'s' if k != 1 else ''}")
    if c.matched_nothing:
        head = (f"WARNING: {head}: no variant id matched (a change to the experiment or the code changed "
                "every variant id?); nothing was compared")
    parts = [head]
    if c.unmatched and not c.matched_nothing:
        parts.append(f"no match last night: {', '.join(c.unmatched)}")
    if c.same_file:
        parts.append(f"same file as last night, latency a tie: {', '.join(c.same_file)}")
    if c.remeasured:
        parts.append(f"latency re-measured side by side with last night's file: {', '.join(c.remeasured)}")
    if c.not_remeasured:
        parts.append("latency NOT compared (" + "; ".join(f"{v}: {why}" for v, why in c.not_remeasured.items())
                     + "): p50s taken a day apart are not a measurement")
    return "; ".join(parts)
