"""Run a whole experiment: validate and plan once (ids, roles, data fingerprint), resume, execute the planned
variants through an executor (the first task to need the baseline trains it, under a file lock), settle,
summarise (``run.settle``). The supervising process never imports TensorFlow. ``workbench run`` is a thin shell around
``run_sweep``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalog.metrics import METRICS, Metric
from workbench.errors import SpecError, StorageError, TrackingLost, WorkbenchError
from workbench.files import atomic_write, experiment_lock
from workbench.run.status import Outcome, Stop, VariantStatus
from workbench.run.task import NOTEBOOK, VariantTask, stop_on_baseline, stop_on_storage
from workbench.spec import ExperimentSpec, load_experiment
from workbench.spec.plan import Plan

if TYPE_CHECKING:
    from workbench.tracking import RunRecord

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_REGRESSIONS, EXIT_NOTHING_COMPARED = 0, 1, 2, 3, 4


@dataclass
class SweepResult:
    experiment: str
    experiment_id: str
    sweep_id: str
    parent_run_id: str
    tracking_uri: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    regressions: list[dict[str, Any]] = field(default_factory=list)
    comparison: str = ""  # --compare-to: "compared N of M variants with sweep X (started ...): K regressions"
    compared_nothing: bool = False  # --compare-to found a previous sweep but no variant id matched
    dashboard: Path | None = None
    work_dir: str = ".workbench"
    killed_runs: list[str] = field(default_factory=list)
    remeasured: dict[str, str] = field(default_factory=dict)  # variant -> why its FINISHED run was not reused
    recommendation: str = ""  # the answer to "which variant do we ship, and what does it cost?" (markdown)
    report_error: str = ""  # a disk refused the report (the results are stored): the command ends with this line
    primary: Metric = METRICS["accuracy"]  # the task's primary metric: what the table shows beside the costs

    @property
    def elsewhere(self) -> list[dict[str, Any]]:
        """Variants another live sweep held (claimed first, or FINISHED while this one waited)."""
        return [r for r in self.rows if r["status"] == VariantStatus.ELSEWHERE]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == VariantStatus.FAILED]

    @property
    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILURES
        if self.regressions:
            return EXIT_REGRESSIONS
        return EXIT_NOTHING_COMPARED if self.compared_nothing else EXIT_OK


def plan_experiment(experiment_file: str | Path, root: Path) -> Plan:
    """Read and validate the experiment once, fingerprint its model file and data once, and resolve every
    variant. SpecError / ModelFileError / DataError before anything is created. Imports no TensorFlow."""
    from workbench.variant.inputs import read_inputs

    spec = load_experiment(experiment_file)
    return read_inputs(spec, root, source=str(Path(experiment_file).resolve())).plan


def new_sweep_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _row(name: str, vid: str, technique: str, status: VariantStatus, reason: str,
         run: RunRecord | None) -> dict[str, Any]:
    from workbench.tracking import TAG_MODEL_SHA256

    metrics = dict(run.metrics) if run is not None else {}
    sha = run.tags.get(TAG_MODEL_SHA256, "") if run is not None else ""
    return {"variant": name, "variant_id": vid, "technique": technique, "status": status, "reason": reason,
            "run_id": run.run_id if run is not None else "", "model_sha256": sha, **metrics}


def _held_elsewhere(held: RunRecord) -> str:
    from workbench.tracking import TAG_SWEEP

    return f"running elsewhere: run {held.run_id} of sweep {held.tags.get(TAG_SWEEP, '?')}"


def run_sweep(experiment_file: str | Path, workers: int = 1, executor: str = "local", scheduler: str | None = None,
              force: bool = False, only: tuple[str, ...] = (), compare_to: str | None = None,
              work_dir: str | Path = ".workbench", root: str | Path | None = None, progress: bool = True,
              notebook: str | Path | None = None, tracking_uri: str | None = None,
              since_s: float | None = None) -> SweepResult:
    """Run (or resume) every variant of an experiment; see module docstring. Raises WorkbenchError subclasses
    for bad input before any MLflow run is created."""
    root_p = Path(root or Path.cwd()).resolve()
    the_plan = plan_experiment(experiment_file, root_p)  # SpecError / DataError before MLflow is even imported
    wdir = Path(work_dir) if Path(work_dir).is_absolute() else root_p / work_dir
    from workbench.baseline import raise_if_refused

    raise_if_refused(wdir, the_plan.baseline_id)  # an earlier sweep found this float baseline unusable: exit 2 now
    from workbench.run.executors import make_executor
    from workbench.run.lease import LeaseKeeper
    from workbench.run.orphans import end_orphans
    from workbench.run.settle import settle_stopped, settle_sweep
    from workbench.run.task import clear_stop, kill_running
    from workbench.tracking import (
        KIND_SWEEP,
        TAG_BASELINE_TRAINING,
        TAG_EXECUTOR,
        TAG_EXPERIMENT_FILE,
        TAG_KIND,
        TAG_SWEEP,
        TAG_VARIANT_COUNT,
        Lease,
        RunStatus,
        Tracker,
        check_tracking_uri,
        default_tracking_uri,
        provenance_tags,
    )

    check_tracking_uri(tracking_uri or default_tracking_uri(root_p))  # a bad URI, a closed database: before any cost
    if not the_plan.experiment.variants and not the_plan.experiment.matrix:
        raise SpecError(f"{experiment_file}: variants: only a search block, no variants to run; use "
                        "`workbench search`, or add 'variants' or 'matrix'")
    if only:
        known = {p.name for p in the_plan.variants}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise WorkbenchError(f"--only: unknown variant(s) {unknown}; known: {sorted(known)}")
    exec_engine = make_executor(executor, workers, scheduler)
    tracker = Tracker(tracking_uri, root_p)
    tracker.check()
    spec = the_plan.experiment
    if compare_to and compare_to != "previous":  # a wrong id is bad input: refused before any variant runs
        from workbench.run.history import find_sweep

        exp = tracker.experiment(spec.name)
        find_sweep(tracker.sweeps(exp.experiment_id) if exp else [], compare_to, "--compare-to", spec.name)
    with experiment_lock(wdir, spec.name):
        exp_id = tracker.experiment_id(spec.name)
        end_orphans(wdir)  # what a dead supervisor left running ends before anything is measured
        killed = tracker.settle_abandoned(exp_id)  # only runs whose sweep is provably gone
        since_ms = int((time.time() - since_s) * 1000) if since_s else 0
        finished = {} if force else tracker.finished_variant_runs(exp_id, since_ms)
        from workbench.run.verify import recheck_finished

        stale = recheck_finished(tracker, exp_id, finished, [p.id for p in the_plan.variants
                                                             if not only or p.name in only])
        for vid in stale:  # its stored files no longer match their checksums: measure it again
            del finished[vid]
        lease = Lease.mine()
        elsewhere = tracker.live_claims(exp_id, lease)  # claimed by another live sweep (any work dir, machine)
        selected = [p for p in the_plan.variants if not only or p.name in only]
        todo = [p for p in selected if p.id not in finished and p.id not in elsewhere]
        if not todo:  # nothing to measure: no empty sweep run, no new dashboard; the newest sweep's answer stands
            return _nothing_to_do(tracker, spec, exp_id, selected, finished, elsewhere, killed, wdir)
        sweep_id = new_sweep_id()
        parent = tracker.start_run(exp_id, f"sweep {sweep_id}", {
            TAG_KIND: KIND_SWEEP, TAG_SWEEP: sweep_id, TAG_EXPERIMENT_FILE: the_plan.source,
            TAG_VARIANT_COUNT: str(len(selected)), TAG_EXECUTOR: executor,
            TAG_BASELINE_TRAINING: spec.baseline.training_words(),
            **provenance_tags(spec.target.threads), **lease.tags()})
        result = SweepResult(spec.name, exp_id, sweep_id, parent, tracker.uri, killed_runs=killed, work_dir=str(wdir),
                             primary=spec.task.primary_metric())
        result.remeasured = {p.name: stale[p.id] for p in the_plan.variants if p.id in stale}
        outcomes: dict[str, Outcome] = {}
        clear_stop()
        keeper = LeaseKeeper(tracker, exp_id, lease, on_lost=lambda why: kill_running(Stop.tracking_lost(why)))
        try:
            with keeper:
                out_dir = wdir / "sweeps" / sweep_id
                plan_json = the_plan.to_json()
                atomic_write(out_dir / "plan.json", plan_json)
                tracker.log_artifact(parent, out_dir / "plan.json")
                tracker.log_text(parent, spec.model_dump_json(indent=1), "experiment.resolved.json")
                tracker.log(parent, params={"workers": workers, "executor": executor, "force": force,
                                            "dataset.fingerprint": the_plan.dataset_fingerprint,
                                            **({"model.fingerprint": the_plan.model_fingerprint}
                                               if the_plan.model_fingerprint else {})})
                _describe(tracker, the_plan, exp_id, parent)
                tasks = [VariantTask(
                    plan_json=plan_json, variant_id=p.id, experiment_id=exp_id, parent_run_id=parent,
                    sweep_id=sweep_id, tracking_uri=tracker.uri, work_dir=str(wdir), root=str(root_p),
                    output_dir=str(out_dir), timeout_s=float(p.spec.timeout_s or spec.variant_timeout_s),
                    notebook=str(notebook or NOTEBOOK), lease=lease, finished_after_ms=None if force else since_ms,
                ) for p in todo]
                for outcome in _execute(exec_engine, tasks, skipped=len(selected) - len(todo), progress=progress,
                                        names={p.id: p.name for p in todo}):
                    outcomes[outcome.variant_id] = outcome
                    if outcome.status == VariantStatus.LOST:
                        raise TrackingLost(outcome.stop.detail if outcome.stop else outcome.reason)
                    stop_on_storage(outcome, wdir)
                    stop_on_baseline(outcome, wdir, the_plan.baseline_id)
                if keeper.lost:
                    raise TrackingLost(keeper.lost)
                for p in selected:
                    if p.id in outcomes:
                        o = outcomes[p.id]
                        run = tracker.get_run(o.run_id) if o.run_id and o.status != VariantStatus.ELSEWHERE else None
                        result.rows.append(_row(p.name, p.id, p.spec.technique, o.status, o.reason, run))
                    elif p.id in elsewhere:
                        result.rows.append(_row(p.name, p.id, p.spec.technique, VariantStatus.ELSEWHERE,
                                                _held_elsewhere(elsewhere[p.id]), None))
                    else:
                        run = finished[p.id]
                        result.rows.append(_row(p.name, p.id, p.spec.technique, VariantStatus.SKIPPED,
                                                "already FINISHED in run " + run.run_id, run))
                # duplicates of our own claims (a create_run retried after a lost response), never ours to keep
                tracker.settle_own(exp_id, lease, RunStatus.KILLED, "duplicate claim left by a retried request",
                                   keep=[parent])
                settle_sweep(tracker, result, compare_to, spec, partial=f"--only {' '.join(only)}" if only else "")
        except BaseException as exc:
            raise settle_stopped(tracker, exp_id, lease, parent, sweep_id, exc, outcomes, len(todo)) from None
    if result.report_error:
        raise StorageError(result.report_error)
    return result


def _execute(engine: Any, tasks: list[VariantTask], skipped: int, progress: bool,
             names: dict[str, str] | None = None) -> Iterator[Outcome]:
    """Run the tasks, yielding outcomes; the progress bar counts them and names the variants running now."""
    import threading

    from tqdm import tqdm

    names = names or {}
    counts = {"done": 0, "failed": 0, "skipped": skipped}
    running: dict[str, str] = {}  # variant id -> name, in start order
    lock = threading.Lock()  # a local pool starts and ends tasks from its threads
    total = len(tasks) + skipped
    bar = tqdm(total=total, initial=skipped, desc="variants", unit="variant", disable=not progress,
               dynamic_ncols=True)

    def show() -> None:
        with lock:
            now = ", ".join(running.values())
            bar.set_postfix_str(" ".join(f"{k} {v}" for k, v in counts.items())
                                + (f" | running: {now}" if now else ""))

    def on_start(task: VariantTask) -> None:
        with lock:
            running[task.variant_id] = names.get(task.variant_id) or task.variant
        show()

    def on_end(task: VariantTask) -> None:
        with lock:
            running.pop(task.variant_id, None)

    show()
    try:
        for outcome in engine.run(tasks, on_start, on_end):
            kind = {VariantStatus.FINISHED: "done", VariantStatus.ELSEWHERE: "skipped"}.get(outcome.status, "failed")
            with lock:
                counts[kind] += 1
                running.pop(outcome.variant_id, None)
            show()
            bar.update(1)
            if kind != "done":
                bar.write(f"  {outcome.status} {outcome.variant}: {outcome.reason}")
            yield outcome
    finally:
        bar.close()


def _describe(tracker: Any, plan: Plan, experiment_id: str, parent: str) -> None:
    """The experiment's description (what it compares, how to read it) and the sweep's dataset input."""
    from workbench.tracking import source_tags
    from workbench.views.summary import experiment_description

    tracker.describe_experiment(experiment_id, experiment_description(plan.experiment, len(plan.variants)))
    tracker.log_dataset(parent, plan.experiment.baseline.dataset, plan.dataset_fingerprint)
    tracker.set_tags(parent, source_tags(plan.source))


def _nothing_to_do(tracker: Any, spec: ExperimentSpec, experiment_id: str, selected: list[Any],
                   finished: dict[str, RunRecord], elsewhere: dict[str, RunRecord], killed: list[str],
                   wdir: Path) -> SweepResult:
    """Every selected variant is already FINISHED (or held by another live sweep): the result lists them, with
    no parent run, and carries the recommendation of the newest sweep that made one."""
    from workbench.run.settle import standing_recommendation

    result = SweepResult(spec.name, experiment_id, "", "", tracker.uri, killed_runs=killed, work_dir=str(wdir),
                         primary=spec.task.primary_metric())
    for p in selected:
        if p.id in elsewhere:
            result.rows.append(_row(p.name, p.id, p.spec.technique, VariantStatus.ELSEWHERE,
                                    _held_elsewhere(elsewhere[p.id]), None))
        else:
            run = finished[p.id]
            result.rows.append(_row(p.name, p.id, p.spec.technique, VariantStatus.SKIPPED,
                                    "already FINISHED in run " + run.run_id, run))
    result.recommendation = standing_recommendation(tracker, experiment_id)
    return result
