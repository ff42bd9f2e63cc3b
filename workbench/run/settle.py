"""The settle step: what a sweep (or a search) does once its variants have run, or when it is stopped.

``settle_sweep`` counts the outcomes, logs ``summary.json``, compares with an earlier sweep (the regression
rule), decides (``analysis.recommend.decide``, pure), writes and logs the dashboard (``views.dashboard``
renders it) and ``pareto.png``/``pareto.json``, publishes the decision (the ``recommended`` registry alias,
the ``workbench.recommended`` run tag, the parent run's description and name) and ends the parent run. A
partial sweep (``--only``) describes itself and publishes nothing. ``report`` is the same without
publishing (``workbench report`` rebuilds any past sweep from the store). ``settle_stopped`` settles a sweep
that cannot go on; ``settle_search`` ends a search."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workbench.analysis.recommend import Recommendation, axis_runtimes, decide
from workbench.catalog.metrics import Metric
from workbench.errors import TrackingLost, WorkbenchError
from workbench.files import storage_refusal
from workbench.run.status import Outcome, Stop, VariantStatus
from workbench.spec import ExperimentSpec
from workbench.tracking import (
    KIND_SWEEP,
    KIND_VARIANT,
    ORIGIN_ADHOC,
    RECOMMENDED_ALIAS,
    TAG_COMPARED_TO,
    TAG_DASHBOARD_ERROR,
    TAG_FAILURES,
    TAG_HELD,
    TAG_KIND,
    TAG_NOTE,
    TAG_ORIGIN,
    TAG_PARETO_SIZE_LATENCY,
    TAG_PROFILE_AXES,
    TAG_RECOMMENDED,
    TAG_RECOMMENDED_VARIANT,
    TAG_REGRESSIONS,
    TAG_RUNTIME,
    TAG_STOPPED_BY,
    TAG_SWEEP,
    TAG_VARIANT,
    TAG_VARIANT_NAME,
    Lease,
    RunRecord,
    RunStatus,
    Tracker,
    ui_path,
)

DECIDE_ATTEMPTS = 5  # decide-publish-reread rounds while other sweeps keep finishing results


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as the store holds it: its parent run, its resolved spec, and its rows (``summary.json`` with the
    metrics each variant run logged)."""

    parent: RunRecord
    spec: ExperimentSpec
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Report:
    """What a sweep's report produced: the dashboard file, the recommended variant (None: no variant fits every
    budget) and the paragraph that answers "which variant do we ship, and what does it cost?"."""

    path: Path
    recommended: str | None
    text: str


class Settling(Protocol):
    """What ``settle_sweep`` reads and fills in (a ``SweepResult``)."""

    experiment_id: str
    sweep_id: str
    parent_run_id: str
    rows: list[dict[str, Any]]
    regressions: list[dict[str, Any]]
    comparison: str
    compared_nothing: bool
    dashboard: Path | None
    work_dir: str
    recommendation: str
    report_error: str


def load_sweep(tracker: Tracker, experiment_id: str, sweep_id: str) -> SweepRecord:
    """The sweep ``sweep_id`` of the experiment, read from the store only (any machine can rebuild it)."""
    parents = tracker.runs(experiment_id, f"tags.`{TAG_SWEEP}` = '{sweep_id}' and tags.`{TAG_KIND}` = '{KIND_SWEEP}'")
    if not parents:
        raise WorkbenchError(f"no sweep '{sweep_id}' in this experiment")
    parent = parents[0]
    spec = ExperimentSpec.model_validate(json.loads(tracker.read_text(parent.run_id, "experiment.resolved.json")))
    rows = []
    for row in json.loads(tracker.read_text(parent.run_id, "summary.json")):
        run = tracker.get_run(row["run_id"]) if row.get("run_id") else None
        rows.append(_row_of(row, row["status"], row.get("reason", ""), run))
    return SweepRecord(parent, spec, rows)


def _row_of(row: Mapping[str, Any], status: str, reason: str, run: RunRecord | None) -> dict[str, Any]:
    """A variant's row: its identity from ``row``, its numbers from ``run``."""
    tags = dict(run.tags) if run is not None else {}
    return {"variant": row["variant"], "variant_id": row["variant_id"], "technique": row["technique"],
            "status": status, "reason": reason, "run_id": run.run_id if run is not None else "",
            "params": dict(run.params) if run is not None else {}, **(dict(run.metrics) if run is not None else {}),
            "runtime": tags.get(TAG_RUNTIME, ""), "axes_status": json.loads(tags.get(TAG_PROFILE_AXES, "{}")),
            "notes": tags.get(TAG_NOTE, "")}


def experiment_results(tracker: Tracker, experiment_id: str, rows: list[dict[str, Any]],
                       since_ms: int = 0) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows a recommendation is decided over: each of the sweep's variants with the newest finished result of
    its variant id in the whole experiment, whichever sweep, work directory or machine measured it: a variant
    another sweep held, or measured again since, counts with that sweep's numbers (SKIPPED, "measured in run ...
    of sweep ..."), provided that result ended after ``since_ms`` (the sweep's start: anything older the sweep
    already knew, or chose to measure again). A variant that FAILED or was KILLED in this sweep keeps its row: that
    is its newest word. Also returns the basis (variant id -> run id), which ``report`` reads again after
    publishing."""
    newest = tracker.decision_basis(experiment_id, [r["variant_id"] for r in rows])
    out, basis = [], {}
    for row in rows:
        run = newest.get(row["variant_id"])
        if (run is None or run.run_id == row.get("run_id") or (run.end_time or 0) < since_ms
                or row["status"] in (VariantStatus.FAILED, VariantStatus.KILLED)):
            out.append(row)
            continue
        basis[row["variant_id"]] = run.run_id
        why = f"measured in run {run.run_id} of sweep {run.tags.get(TAG_SWEEP, '?')}"
        out.append(_row_of(row, VariantStatus.SKIPPED, why, run))
    return out, basis


def sweep_history(tracker: Tracker, experiment_id: str) -> list[RunRecord]:
    """Every FINISHED variant run a sweep made in the experiment (a hand run is no night of the sweep)."""
    runs = tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_VARIANT}'", statuses=[RunStatus.FINISHED])
    return [r for r in runs if r.tags.get(TAG_ORIGIN) != ORIGIN_ADHOC]


def stored_regressions(tracker: Tracker, parent: RunRecord) -> list[dict[str, str]]:
    """The regressions a sweep's nightly comparison found (its ``regressions.json``), for a rebuilt report."""
    if parent.tags.get(TAG_REGRESSIONS, "0") in ("", "0"):
        return []
    try:
        table = json.loads(tracker.read_text(parent.run_id, "regressions.json"))
    except Exception:  # noqa: BLE001 - the count is on the run; the list could not be read back
        return [{"variant": "?", "what": f"{parent.tags[TAG_REGRESSIONS]} regression(s); regressions.json unreadable"}]
    return [{"variant": v["variant"], "what": w} for v in table.get("variants", []) for w in v.get("regressions", [])]


def report(tracker: Tracker, experiment_id: str, sweep_id: str, out_dir: Path, publish: bool = False,
           partial: str = "", regressions: Sequence[dict[str, str]] | None = None, attempt: int = 1) -> Report:
    """The dashboard and ``pareto.png`` of ``sweep_id``, written under ``out_dir`` and logged on its parent run.
    With ``publish`` (the sweep settling itself) the recommendation is published too, decided over the whole
    experiment's newest results (``experiment_results``); when another sweep finished a result while this one
    decided, it decides and publishes again, so concurrent sweeps converge on the answer one sweep would give.
    A ``partial`` sweep (it ran only some variants, e.g. ``--only int8``: the reason) reads its own rows, gets
    its description and changes no tag and no alias. ``regressions``: what the nightly comparison found (None:
    read back from the sweep's ``regressions.json``); with any, the recommendation is held
    (``hold_recommendation``)."""
    from workbench.files import atomic_write
    from workbench.views.dashboard import render
    from workbench.views.pareto_image import pareto_png
    from workbench.views.summary import recommendation, regression_words

    sweep = load_sweep(tracker, experiment_id, sweep_id)
    spec, parent = sweep.spec, sweep.parent
    settling = publish and not partial
    since_ms = parent.start_time
    rows, basis = experiment_results(tracker, experiment_id, sweep.rows, since_ms) if settling else (sweep.rows, {})
    found = list(stored_regressions(tracker, parent) if regressions is None else regressions)
    rec = decide(rows, spec.budgets, spec.target.runtime, axis_runtimes(spec.profiles),
                 spec.task.primary_metric())
    standing = standing_pick(tracker, experiment_id) if found and publish else None
    held = ""
    if found and publish:
        held = regression_words(found, parent.tags.get(TAG_COMPARED_TO, ""), standing[1] if standing else None,
                                rec.variant)
    elif found:  # a rebuild says what the sweep held when it settled, from its tag
        held = parent.tags.get(TAG_HELD, "")
    page = render(spec, sweep_id, rows, rec, sweep_history(tracker, experiment_id), regressions=found,
                  held=held)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{spec.name}-{sweep_id}.html"
    atomic_write(path, page)
    tracker.log_text(parent.run_id, page, "dashboard.html")
    tracker.log_text(parent.run_id, json.dumps(rec.fronts(), indent=1), "pareto.json")
    png = pareto_png(rec, spec, f"{spec.name} — sweep {sweep_id}")
    tracker.log_image(parent.run_id, png, "pareto.png", compare=publish)  # a rebuild adds no image
    dataset = f"`{spec.baseline.dataset}` (fingerprint {parent.params.get('dataset.fingerprint', '?')[:12]})"
    text = recommendation(spec, list(rec.candidates), rec.chosen, list(rec.reasons),
                          ui_path(experiment_id, parent.run_id, "dashboard.html"), dataset)
    if publish and partial:
        text = f"Partial sweep ({partial}): among the variants it ran only. {held + ' ' if held else ''}{text}"
        tracker.set_tags(parent.run_id, {TAG_NOTE: text})
        tracker.rename_run(parent.run_id, f"partial ({partial}) · sweep {sweep_id}")
    elif publish and found:
        text = hold_recommendation(tracker, parent.run_id, sweep_id, rec, f"{held} {text}", len(found),
                                   standing[1] if standing else None)
    elif publish:
        text = publish_recommendation(tracker, experiment_id, parent.run_id, spec, sweep_id, rec, text)
        if attempt < DECIDE_ATTEMPTS and experiment_results(tracker, experiment_id, sweep.rows, since_ms)[1] != basis:
            return report(tracker, experiment_id, sweep_id, out_dir, publish, partial, found, attempt + 1)
    if publish and not partial:
        runs_view(tracker, experiment_id, sweep_id, rows, standing[0] if standing else rec.run_id, bool(found),
                  rec.primary)
    return Report(path, rec.variant, text)


def standing_pick(tracker: Tracker, experiment_id: str) -> tuple[str, str] | None:
    """(run id, variant) of the run that carries ``workbench.recommended=true`` (what ships now), or None."""
    for run in tracker.runs(experiment_id, f"tags.`{TAG_RECOMMENDED}` = 'true'"):
        return run.run_id, run.tags.get(TAG_VARIANT_NAME, run.name)
    return None


def runs_view(tracker: Tracker, experiment_id: str, sweep_id: str, rows: Sequence[dict[str, Any]],
              shipping_run: str | None, held: bool, primary: Metric | None = None) -> None:
    """The MLflow runs view a manager lands on (``tracking.views``): this sweep's variants and the run that ships
    (the held one when the recommendation is held), the metric columns (the task's ``primary`` metric first), the
    recommended run on top."""
    from workbench.catalog.metrics import MLFLOW_RUNS_AXES, MLFLOW_RUNS_TABLE, task_columns

    columns = task_columns(MLFLOW_RUNS_TABLE, primary) if primary is not None else MLFLOW_RUNS_TABLE

    ids = [r["run_id"] for r in rows if r.get("run_id")] + ([shipping_run] if shipping_run else [])
    name = f"What ships — sweep {sweep_id}" + (" (held: regressions)" if held else "")
    tracker.save_runs_view(experiment_id, name, ids, columns, columns[0], MLFLOW_RUNS_AXES)


def hold_recommendation(tracker: Tracker, parent_run_id: str, sweep_id: str, rec: Recommendation, text: str,
                        regressions: int, standing: str | None) -> str:
    """A sweep with regressions publishes its finding, not a new pick: the ``recommended`` alias and the
    ``workbench.recommended`` tag stay where they are (``standing``: the variant that ships now, None when
    nothing was recommended yet); the parent run says so in its name, its description and ``workbench.
    recommendation_held``. The next sweep that compares clean (or runs without ``--compare-to``) moves them.
    Returns the description."""
    n = f"{regressions} regression{'s' if regressions != 1 else ''}"
    tracker.set_tags(parent_run_id, {TAG_NOTE: text, TAG_RECOMMENDED_VARIANT: rec.variant or "none",
                                     TAG_HELD: f"{n}: recommendation held on {standing or 'nothing'}"})
    tracker.rename_run(parent_run_id, f"{n} · {'holding ' + standing if standing else 'nothing recommended'}"
                                      f" · sweep {sweep_id}")
    return text


def publish_recommendation(tracker: Tracker, experiment_id: str, parent_run_id: str, spec: ExperimentSpec,
                           sweep_id: str, rec: Recommendation, text: str) -> str:
    """The decision where a manager looks: ``workbench.recommended`` on exactly one run, the registry alias (a
    new model version when the recommended model changed), the parent run's tag, description and name.
    Returns the description."""
    _tag_recommended(tracker, experiment_id, rec.run_id)
    tracker.set_tags(parent_run_id, {TAG_RECOMMENDED_VARIANT: rec.variant or "none"})
    return _publish(tracker, parent_run_id, spec, sweep_id, rec.chosen, text)


def _publish(tracker: Any, parent_run_id: str, spec: ExperimentSpec, sweep_id: str, chosen: dict[str, Any] | None,
             text: str) -> str:
    """The registry alias, then the parent run's description and name. Returns the description."""
    from workbench.views.summary import plain

    try:
        if chosen is None:
            tracker.demote(spec.name)
        else:
            version = tracker.promote(spec.name, tracker.get_run(chosen["run_id"]), plain(text), {  # a table cell
                TAG_SWEEP: sweep_id, TAG_VARIANT: str(chosen.get("variant_id", "")), TAG_VARIANT_NAME: chosen["variant"]})
            if version is not None:
                text += f" Registered as model `{spec.name}` version {version}, alias `{RECOMMENDED_ALIAS}` (Models)."
    except TrackingLost:
        raise
    except Exception as exc:  # a store without a model registry: the answer still goes on the run
        text += f" The model registry was not updated ({type(exc).__name__}: {str(exc).strip()[:160]})."
    tracker.set_tags(parent_run_id, {TAG_NOTE: text})
    # the answer first: the runs table cuts long names short
    tracker.rename_run(parent_run_id, (f"ship {chosen['variant']}" if chosen else "no variant fits")
                       + f" · sweep {sweep_id}")
    return text


def _tag_recommended(tracker: Tracker, experiment_id: str, run_id: str | None) -> None:
    """Exactly one run of the experiment carries workbench.recommended=true: the newest recommendation."""
    for run in tracker.runs(experiment_id, f"tags.`{TAG_RECOMMENDED}` = 'true'"):
        if run.run_id != run_id:
            tracker.set_tags(run.run_id, {TAG_RECOMMENDED: "false"})
    if run_id:
        tracker.set_tags(run_id, {TAG_RECOMMENDED: "true"})


def standing_recommendation(tracker: Tracker, experiment_id: str) -> str:
    """The description of the newest sweep that settled a recommendation ('' when none has)."""
    for run in tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = '{KIND_SWEEP}'"):
        if run.tags.get(TAG_RECOMMENDED_VARIANT) and run.note:
            return run.note
    return ""


def settle_sweep(tracker: Tracker, result: Settling, compare_to: str | None, spec: ExperimentSpec,
                 partial: str = "") -> None:
    """Count, summarise, compare, report and publish, then end the parent run (FAILED when a variant failed)."""
    counts = {s: sum(1 for r in result.rows if r["status"] == s) for s in ("FINISHED", "FAILED", "SKIPPED")}
    tracker.log(result.parent_run_id, metrics={f"variants_{k.lower()}": v for k, v in counts.items()})
    tracker.log_text(result.parent_run_id, json.dumps(result.rows, indent=1, default=str), "summary.json")
    if compare_to:
        from workbench.analysis.regressions import comparison_line
        from workbench.run.compare import compare_with_previous

        comp = compare_with_previous(tracker, result, compare_to, spec)
        result.regressions, result.compared_nothing = comp.regressions, comp.matched_nothing
        result.comparison = comparison_line(comp)
    try:
        done = report(tracker, result.experiment_id, result.sweep_id, Path(result.work_dir) / "reports",
                      publish=True, partial=partial, regressions=result.regressions)
        result.dashboard, result.recommendation = done.path, done.text
    except Exception as exc:  # a broken chart must not cost the night's measurements
        tracker.set_tags(result.parent_run_id, {TAG_DASHBOARD_ERROR: f"{type(exc).__name__}: {exc}"[:500]})
        if storage_refusal(exc):  # the measurements are stored; the command still ends in one line, exit 2
            result.report_error = (f"sweep {result.sweep_id}: every result is stored, but not its report ({exc}); "
                                   f"free space, then `workbench report {spec.name} --sweep {result.sweep_id}` "
                                   "rebuilds it (the next sweep publishes the recommendation)")
    failures = [f"{r['variant']}: {r['reason']}" for r in result.rows if r["status"] == "FAILED"]
    if failures:
        tracker.set_tags(result.parent_run_id, {TAG_FAILURES: "\n".join(failures)[:5000]})
    tracker.end_run(result.parent_run_id, RunStatus.FAILED if failures else RunStatus.FINISHED)


def settle_stopped(tracker: Tracker, exp_id: str, lease: Lease, parent: str, sweep_id: str, exc: BaseException,
                   outcomes: Mapping[str, Outcome], planned: int) -> BaseException:
    """The sweep (or search) cannot go on (a signal, the store lost, a bug): stop every variant this process
    runs, settle every run it still holds KILLED with the true reason (when the store answers), and return the
    exception to raise: a one-line TrackingLost naming what to do, else ``exc`` itself."""
    from workbench.run.signals import reason_of
    from workbench.run.task import kill_running

    lost = isinstance(exc, TrackingLost)
    stop = Stop.tracking_lost(str(exc)) if lost else reason_of(exc)
    kill_running(stop)
    quick = Tracker(tracker.uri, tracker.root, retry_s=0 if lost else 5)
    try:  # children still RUNNING (Dask workers notice their run ended and stop their trees), then the parent
        quick.settle_own(exp_id, lease, RunStatus.KILLED, stop.text, keep=[parent])
    except Exception:  # noqa: S110 - the store is gone: the leases expire and the next sweep settles them
        pass
    quick.try_settle(parent, RunStatus.KILLED, stop.text)
    if lost:
        done = sum(1 for o in outcomes.values() if o.status == VariantStatus.FINISHED)
        return TrackingLost(f"{exc}; sweep {sweep_id} stopped after {done} of {planned} variant(s): run the same "
                            "command again when the store is back, it redoes only what is missing")
    return exc


def settle_search(tracker: Tracker, parent: str, trials: list[dict[str, Any]], front: list[str],
                  best: dict[str, Any] | None, within_budget: int, stopped_by: str, seconds: float) -> None:
    """A search's end: its counts, what stopped it and its size-latency front on the parent run, the trials as
    ``search.json``; the parent run ends FINISHED."""
    tracker.log(parent, metrics={"trials": len(trials), "trials_within_budget": within_budget,
                                 "search_seconds": seconds,
                                 "best_compression_ratio_gzip": (best or {}).get("compression_ratio_gzip", 0.0)},
                tags={TAG_STOPPED_BY: stopped_by, TAG_PARETO_SIZE_LATENCY: ",".join(front)})
    tracker.log_text(parent, json.dumps({"trials": trials, "front": front, "stopped_by": stopped_by}, indent=1,
                                        default=str), "search.json")
    tracker.end_run(parent, RunStatus.FINISHED)
