"""Nightly comparison: each variant against the same variant id in the previous successful sweep.

A regression is an accuracy drop beyond ``max_accuracy_drop_pts``, a latency p50 rise larger than both
the two profiles' own noise (half-widths of their p50 confidence intervals, added) and
``min_latency_rise`` (relative), or any change of the .tflite size beyond ``max_size_change``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.spec import ExperimentSpec

if TYPE_CHECKING:
    from workbench.tracking import RunRecord


def find_previous_sweep(tracker: Any, experiment_id: str, current_sweep: str, wanted: str) -> RunRecord | None:
    from workbench.tracking import KIND_SWEEP, TAG_KIND, TAG_SWEEP, RunStatus

    sweeps = tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_SWEEP}'")
    if wanted != "previous":
        match = [r for r in sweeps if r.tags.get(TAG_SWEEP) == wanted]
        if not match:
            raise WorkbenchError(f"--compare-to: no sweep '{wanted}' in this experiment")
        return match[0]
    done = [r for r in sweeps if r.status == RunStatus.FINISHED and r.tags.get(TAG_SWEEP) != current_sweep]
    return max(done, key=lambda r: r.start_time) if done else None


def regressions_between(cur: dict[str, float], prev: dict[str, float], rules: Any) -> list[str]:
    """What got worse from ``prev`` to ``cur`` (metric dicts of one variant). Pure."""
    found = []
    if "accuracy" in cur and "accuracy" in prev:
        drop = (prev["accuracy"] - cur["accuracy"]) * 100
        if drop > rules.max_accuracy_drop_pts:
            found.append(f"accuracy down {drop:.2f} points ({prev['accuracy']:.4f} -> {cur['accuracy']:.4f})")
    if "latency_ms_p50" in cur and "latency_ms_p50" in prev:
        rise = cur["latency_ms_p50"] - prev["latency_ms_p50"]
        noise = sum((m.get("latency_ms_p50_ci_high", m["latency_ms_p50"]) - m.get("latency_ms_p50_ci_low", m["latency_ms_p50"])) / 2
                    for m in (cur, prev))
        floor = rules.min_latency_rise * prev["latency_ms_p50"]
        if rise > max(noise, floor):
            found.append(f"latency p50 up {rise / prev['latency_ms_p50'] * 100:.1f}% ({prev['latency_ms_p50']:.4f} -> "
                         f"{cur['latency_ms_p50']:.4f} ms; noise {noise:.4f} ms)")
    if "size_bytes" in cur and "size_bytes" in prev and prev["size_bytes"]:
        change = (cur["size_bytes"] - prev["size_bytes"]) / prev["size_bytes"]
        if abs(change) > rules.max_size_change:
            found.append(f"size changed {change * 100:+.2f}% ({prev['size_bytes']:.0f} -> {cur['size_bytes']:.0f} bytes)")
    return found


def compare_with_previous(tracker: Any, result: Any, compare_to: str, spec: ExperimentSpec) -> list[dict[str, Any]]:
    """Compare, log ``regressions.json`` on the parent run, tag the count; returns the regressions."""
    from workbench.tracking import (
        KIND_VARIANT,
        TAG_COMPARED_TO,
        TAG_KIND,
        TAG_REGRESSIONS,
        TAG_SWEEP,
        TAG_VARIANT,
        RunStatus,
    )

    prev = find_previous_sweep(tracker, result.experiment_id, result.sweep_id, compare_to)
    if prev is None:
        tracker.set_tags(result.parent_run_id, {TAG_REGRESSIONS: "0", TAG_COMPARED_TO: "none"})
        return []
    prev_id = prev.tags[TAG_SWEEP]
    prev_runs = {r.tags.get(TAG_VARIANT): r for r in tracker.runs(
        result.experiment_id, f"tags.`{TAG_SWEEP}` = '{prev_id}' and tags.`{TAG_KIND}` = '{KIND_VARIANT}'",
        statuses=[RunStatus.FINISHED])}
    regressions, table = [], []
    for row in result.rows:
        if row["status"] != "FINISHED":
            continue
        before = prev_runs.get(row["variant_id"])
        if before is None:
            continue
        metrics = {k: v for k, v in row.items() if isinstance(v, float)}
        problems = regressions_between(metrics, dict(before.metrics), spec.regression)
        table.append({"variant": row["variant"], "variant_id": row["variant_id"], "previous_run": before.run_id,
                      "regressions": problems})
        regressions += [{"variant": row["variant"], "what": p} for p in problems]
    tracker.log_text(result.parent_run_id, json.dumps({"compared_to": prev_id, "variants": table}, indent=1),
                     "regressions.json")
    tracker.set_tags(result.parent_run_id, {TAG_REGRESSIONS: str(len(regressions)), TAG_COMPARED_TO: prev_id})
    return regressions
