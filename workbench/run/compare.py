"""Nightly comparison: each variant against the same variant id in the previous successful sweep.

The rules and the summary line are pure (``workbench.analysis.regressions``); this module reads the runs,
fetches last night's file and re-measures it side by side with tonight's before a latency regression is
called (same file: a tie, nothing re-measured), then logs ``regressions.json`` and the tags.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.analysis.regressions import Comparison, comparison_line, regressions_between
from workbench.catalog.metrics import METRICS, Metric
from workbench.profile.stats import Ratio
from workbench.spec import ExperimentSpec

if TYPE_CHECKING:
    from workbench.tracking import RunRecord

#: (tonight's run id, last night's run id) -> last night's p50 / tonight's, measured side by side; or a reason
Remeasure = Callable[[str, str], Ratio | str]


def find_previous_sweep(tracker: Any, experiment_id: str, current_sweep: str, wanted: str) -> RunRecord | None:
    from workbench.tracking import KIND_SWEEP, TAG_KIND, TAG_SWEEP, RunStatus

    sweeps = tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_SWEEP}'")
    if wanted != "previous":
        match = [r for r in sweeps if r.tags.get(TAG_SWEEP) == wanted]
        if not match:
            from workbench.run.history import unknown_sweep
            from workbench.tracking import sweep_summary

            name = tracker.experiment_by_id(experiment_id).name
            raise unknown_sweep("--compare-to", wanted, name, [sweep_summary(r) for r in sweeps])
        return match[0]
    done = [r for r in sweeps if r.status == RunStatus.FINISHED and r.tags.get(TAG_SWEEP) != current_sweep]
    return max(done, key=lambda r: r.start_time) if done else None


def side_by_side_remeasure(tracker: Any, spec: ExperimentSpec) -> Remeasure:
    """Download both nights' files of the main target's runtime and profile them interleaved
    (``spec.rounds`` rounds, the target's budget split over them)."""
    from workbench.catalog import runtime
    from workbench.profile import profile_model
    from workbench.profile.paired import measure_rounds

    name = f"model/model{runtime(spec.target.runtime).file_format}"

    def remeasure(current_run: str, previous_run: str) -> Ratio | str:
        with tempfile.TemporaryDirectory(prefix="wb-nightly-") as tmp:
            try:
                prev = tracker.download(previous_run, name, Path(tmp) / "previous")
                cur = tracker.download(current_run, name, Path(tmp) / "current")
            except Exception as exc:  # a missing or purged artifact: say so, judge nothing
                return f"last night's file could not be fetched ({type(exc).__name__})"
            paired = measure_rounds(lambda p, t: profile_model(p, t), cur, prev, spec.target, max(spec.rounds, 2))
            assert paired.speedup is not None  # a reference was given
            return paired.speedup

    return remeasure


def compare_rows(rows: list[dict[str, Any]], previous: dict[str, Any], prev_id: str, started: str, rules: Any,
                 remeasure: Remeasure | None, primary: Metric = METRICS["accuracy"]) -> tuple[Comparison, list[dict[str, Any]]]:
    """Tonight's FINISHED rows against last night's runs (variant id -> run): the comparison and its table,
    judged on the task's ``primary`` metric."""
    from workbench.tracking import TAG_MODEL_SHA256

    measured = [r for r in rows if r["status"] == "FINISHED"]
    comp, table = Comparison(prev_id, started, len(measured)), []
    for row in measured:
        before = previous.get(row["variant_id"])
        if before is None:
            comp.unmatched.append(row["variant"])
            continue
        comp.compared.append(row["variant"])
        side: Ratio | None = None
        if row.get("model_sha256") and row["model_sha256"] == before.tags.get(TAG_MODEL_SHA256):
            comp.same_file.append(row["variant"])
        else:
            got = remeasure(row["run_id"], before.run_id) if remeasure else "no re-measurement asked for"
            if isinstance(got, Ratio):
                side = got
                comp.remeasured.append(row["variant"])
            else:
                comp.not_remeasured[row["variant"]] = got
        metrics = {k: v for k, v in row.items() if isinstance(v, float)}
        problems = regressions_between(metrics, dict(before.metrics), rules, side, primary)
        table.append({"variant": row["variant"], "variant_id": row["variant_id"], "previous_run": before.run_id,
                      "side_by_side": side.metrics("previous_over_current") if side else None,
                      "regressions": problems})
        comp.regressions += [{"variant": row["variant"], "what": p} for p in problems]
    return comp, table


def compare_with_previous(tracker: Any, result: Any, compare_to: str, spec: ExperimentSpec,
                          remeasure: Remeasure | None = None) -> Comparison:
    """Compare, log ``regressions.json`` and the summary line on the parent run, tag the count; returns the
    comparison (``comparison_line`` says it in one line). ``remeasure`` defaults to profiling both nights'
    files side by side."""
    from workbench.tracking import (
        KIND_VARIANT,
        TAG_COMPARED_TO,
        TAG_COMPARISON,
        TAG_KIND,
        TAG_REGRESSIONS,
        TAG_SWEEP,
        TAG_VARIANT,
        RunStatus,
    )

    prev = find_previous_sweep(tracker, result.experiment_id, result.sweep_id, compare_to)
    if prev is None:
        comp = Comparison("", "", sum(1 for r in result.rows if r["status"] == "FINISHED"))
        tracker.set_tags(result.parent_run_id, {TAG_REGRESSIONS: "0", TAG_COMPARED_TO: "none",
                                                TAG_COMPARISON: comparison_line(comp)})
        return comp
    prev_id = prev.tags[TAG_SWEEP]
    started = dt.datetime.fromtimestamp(prev.start_time / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
    prev_runs = {r.tags.get(TAG_VARIANT): r for r in tracker.runs(
        result.experiment_id, f"tags.`{TAG_SWEEP}` = '{prev_id}' and tags.`{TAG_KIND}` = '{KIND_VARIANT}'",
        statuses=[RunStatus.FINISHED])}
    comp, table = compare_rows(result.rows, prev_runs, prev_id, started, spec.regression,
                               remeasure or side_by_side_remeasure(tracker, spec), spec.task.primary_metric())
    line = comparison_line(comp)
    tracker.log_text(result.parent_run_id, json.dumps({"compared_to": prev_id, "line": line, "variants": table,
                                                       "unmatched": comp.unmatched}, indent=1), "regressions.json")
    tracker.set_tags(result.parent_run_id, {TAG_REGRESSIONS: str(len(comp.regressions)),
                                            TAG_COMPARED_TO: prev_id, TAG_COMPARISON: line[:5000]})
    return comp
