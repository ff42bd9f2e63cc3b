"""Accuracy-budget search: run variants drawn (seeded) from the experiment's ``search.space`` until the
trial budget, the time budget, or the goal (a variant within the accuracy budget reaching the target
gzip compression ratio) stops it. Every trial is a logged variant run under one parent run; the Pareto
front of size and measured latency among trials within the budget is logged at the end."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.analysis.pareto import pareto_front
from workbench.errors import SpecError

SIZE_LATENCY = (("size_gzip_bytes", "min"), ("latency_ms_p50", "min"))  # gzip: what clustering shrinks


@dataclass
class SearchResult:
    experiment_id: str
    parent_run_id: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = ""
    seconds: float = 0.0
    front: list[str] = field(default_factory=list)
    best: dict[str, Any] | None = None


def within_budget(row: dict[str, Any], max_drop: float) -> bool:
    return row.get("status") == "FINISHED" and row.get("accuracy_delta", -1e9) >= -max_drop


def run_search(experiment_file: str | Path, work_dir: str | Path = ".workbench", root: str | Path | None = None,
               progress: bool = True, notebook: str | Path | None = None) -> SearchResult:
    from workbench.files import experiment_lock
    from workbench.run.lease import LeaseKeeper
    from workbench.run.orphans import end_orphans
    from workbench.run.settle import settle_stopped
    from workbench.run.status import Stop
    from workbench.run.sweep import new_sweep_id
    from workbench.run.task import NOTEBOOK, clear_stop, kill_running
    from workbench.spec import load_experiment
    from workbench.tracking import (
        KIND_SEARCH,
        TAG_KIND,
        TAG_SWEEP,
        Lease,
        Tracker,
        check_tracking_uri,
        default_tracking_uri,
        provenance_tags,
    )

    root_p = Path(root or Path.cwd()).resolve()
    check_tracking_uri(default_tracking_uri(root_p))  # a bad URI or a closed database port: before any cost
    wdir = Path(work_dir) if Path(work_dir).is_absolute() else root_p / work_dir
    spec = load_experiment(experiment_file)
    if spec.search is None:
        raise SpecError(f"{experiment_file}: search: no search block (declare search.space and its budgets)")
    s = spec.search
    max_drop = s.max_accuracy_drop if s.max_accuracy_drop is not None else spec.budgets.max_accuracy_drop
    if max_drop is None:
        raise SpecError(f"{experiment_file}: search.max_accuracy_drop: required (or set budgets.max_accuracy_drop)")
    from workbench.variant.inputs import read_inputs

    candidates = list(spec.search_candidates())
    random.Random(s.seed).shuffle(candidates)
    # a missing or corrupt model file or dataset: refused before any run
    plan = read_inputs(spec, root_p, source=str(Path(experiment_file).resolve()), variants=candidates).plan
    tracker = Tracker(None, root_p)
    tracker.check()
    plan_json = plan.to_json()
    with experiment_lock(wdir, spec.name):
        exp_id = tracker.experiment_id(spec.name)
        end_orphans(wdir)  # what a dead supervisor left running ends before anything is measured
        tracker.settle_abandoned(exp_id)
        lease = Lease.mine()
        sweep_id = "search-" + new_sweep_id()
        parent = tracker.start_run(exp_id, sweep_id, {TAG_KIND: KIND_SEARCH, TAG_SWEEP: sweep_id,
                                                       **provenance_tags(spec.target.threads), **lease.tags()})
        clear_stop()
        keeper = LeaseKeeper(tracker, exp_id, lease, on_lost=lambda why: kill_running(Stop.tracking_lost(why)))
        try:
            with keeper:
                result = _trials(tracker, plan, plan_json, exp_id, parent, sweep_id, lease, wdir, root_p, max_drop,
                                 notebook or NOTEBOOK, progress)
        except BaseException as exc:
            raise settle_stopped(tracker, exp_id, lease, parent, sweep_id, exc, {}, 0) from None
    return result


def _trials(tracker: Any, plan: Any, plan_json: str, exp_id: str, parent: str, sweep_id: str, lease: Any,
            wdir: Path, root_p: Path, max_drop: float, notebook: str | Path, progress: bool) -> SearchResult:
    """Run trials until a budget or the goal stops the search; log the front on the parent and end it."""
    from workbench.errors import TrackingLost
    from workbench.files import atomic_write
    from workbench.run.executors import LocalExecutor
    from workbench.run.settle import settle_search
    from workbench.run.status import VariantStatus
    from workbench.run.task import VariantTask, stop_on_baseline, stop_on_storage

    pool = LocalExecutor(1)
    spec = plan.experiment
    s = spec.search
    candidates = plan.variants
    tracker.log(parent, params={"search.max_accuracy_drop": max_drop, "search.goal": s.goal_compression_ratio_gzip,
                                "search.max_trials": s.max_trials, "search.max_seconds": s.max_seconds,
                                "search.candidates": len(candidates), "search.seed": s.seed})
    out_dir = wdir / "sweeps" / sweep_id
    atomic_write(out_dir / "plan.json", plan_json)
    tracker.log_artifact(parent, out_dir / "plan.json")
    result = SearchResult(exp_id, parent)
    start = time.monotonic()
    from tqdm import tqdm

    bar = tqdm(total=min(s.max_trials, len(candidates)), desc="trials", disable=not progress)
    for pv in plan.variants:
        if len(result.trials) >= s.max_trials:
            result.stopped_by = f"trial budget ({s.max_trials})"
            break
        if time.monotonic() - start > s.max_seconds:
            result.stopped_by = f"time budget ({s.max_seconds:g}s)"
            break
        task = VariantTask(
            plan_json=plan_json, variant_id=pv.id, experiment_id=exp_id, parent_run_id=parent, sweep_id=sweep_id,
            tracking_uri=tracker.uri, work_dir=str(wdir), root=str(root_p), output_dir=str(out_dir),
            timeout_s=float(pv.spec.timeout_s or spec.variant_timeout_s), notebook=str(notebook), lease=lease,
            finished_after_ms=None)  # a search measures every trial it draws: only a live claim stops it
        bar.set_postfix_str(f"running: {pv.name}")
        # in a worker thread, so that a signal reaching the main thread stops and settles it properly
        outcome = list(pool.run([task], lambda t: None, lambda t: None))[0]
        if outcome.status == VariantStatus.LOST:
            raise TrackingLost(outcome.stop.detail if outcome.stop else outcome.reason)
        stop_on_storage(outcome, wdir)
        stop_on_baseline(outcome, wdir, plan.baseline_id)
        run = tracker.get_run(outcome.run_id) if outcome.run_id and outcome.status != VariantStatus.ELSEWHERE else None
        row = {"variant": pv.name, "variant_id": pv.id, "technique": pv.spec.technique, "status": outcome.status,
               "reason": outcome.reason, "run_id": outcome.run_id, **(dict(run.metrics) if run else {})}
        result.trials.append(row)
        bar.update(1)
        goal = s.goal_compression_ratio_gzip
        if goal and within_budget(row, max_drop) and row.get("compression_ratio_gzip", 0) >= goal:
            result.stopped_by = f"goal met by {pv.name} (gzip ratio {row['compression_ratio_gzip']:.2f} >= {goal:g})"
            break
    else:
        result.stopped_by = result.stopped_by or "search space exhausted"
    bar.close()
    result.seconds = time.monotonic() - start
    ok = [r for r in result.trials if within_budget(r, max_drop)]
    result.front = pareto_front(ok, SIZE_LATENCY)
    result.best = max(ok, key=lambda r: r.get("compression_ratio_gzip", 0), default=None)
    settle_search(tracker, parent, result.trials, result.front, result.best, len(ok), result.stopped_by, result.seconds)
    return result
