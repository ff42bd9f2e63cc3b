"""Integrity: re-hash what the store and the work directory hold against the SHA-256s recorded when each
file was produced. ``workbench verify`` reports every mismatch; resume re-runs a result whose files no
longer match (and says why); ``workbench report`` refuses a sweep whose results no longer match.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import IntegrityError, WorkbenchError

if TYPE_CHECKING:
    from workbench.tracking import ExperimentRecord, RunRecord, Tracker

UNVERIFIABLE = "unverifiable: logged before checksums were recorded"
DEFAULT_WORK_DIR = ".workbench"


@dataclass
class VerifyReport:
    """What ``verify_store`` checked and what it found."""

    experiments: list[str] = field(default_factory=list)
    runs_checked: int = 0
    files_checked: int = 0
    caches_checked: int = 0
    mismatches: list[str] = field(default_factory=list)  # one line each: what, where, recorded vs found
    unverifiable: list[str] = field(default_factory=list)  # results with nothing recorded (older workbench)
    work_dir: Path | None = None  # the work dir whose cached baselines were checked; None: none was there

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _experiments(tracker: Tracker, name: str | None) -> list[ExperimentRecord]:
    if name:
        exp = tracker.experiment(name)
        if exp is None:
            raise WorkbenchError(f"no MLflow experiment named '{name}' in {tracker.uri}")
        return [exp]
    return tracker.all_experiments(max_results=1000)


def verify_store(experiment: str | None = None, work_dir: str | Path | None = None, root: str | Path | None = None,
                 tracking_uri: str | None = None) -> VerifyReport:
    """Re-hash every recorded artifact (run artifacts and LoggedModels) of ``experiment`` (default: every
    experiment in the store) and every cached baseline under ``work_dir`` (default: ``.workbench``, skipped
    when absent). WorkbenchError (one line) when a ``work_dir`` given is not a folder: checking nothing there
    is not a pass."""
    root_p = Path(root or Path.cwd()).resolve()
    given = Path(work_dir or DEFAULT_WORK_DIR)
    wdir = given if given.is_absolute() else root_p / given
    if work_dir is not None and not wdir.is_dir():
        raise WorkbenchError(f"--work-dir {work_dir}: {'not a folder' if wdir.exists() else 'no such folder'} "
                             f"({wdir}); give the work dir the sweeps used, or leave it out to check the store only")
    from workbench.baseline import cache_problems, cached_baselines
    from workbench.tracking import (
        KIND_PROFILE,
        KIND_VARIANT,
        TAG_INTEGRITY,
        TAG_KIND,
        RunStatus,
        Tracker,
        logged_models_by_run,
        recorded_sha256,
        verify_run,
    )

    tracker = Tracker(tracking_uri, root_p)
    tracker.check()
    report = VerifyReport(work_dir=wdir if wdir.is_dir() else None)
    for exp in _experiments(tracker, experiment):
        report.experiments.append(exp.name)
        models = logged_models_by_run(tracker, exp.experiment_id)
        for run in tracker.runs(exp.experiment_id):
            kind = run.tags.get(TAG_KIND)
            if kind not in (KIND_VARIANT, KIND_PROFILE):
                continue
            recorded = recorded_sha256(run.tags)
            if not recorded:
                if run.status == RunStatus.FINISHED:
                    report.unverifiable.append(f"{exp.name}: run {run.run_id[:12]} "
                                               f"({run.name}): {UNVERIFIABLE}")
                continue
            mine = models.get(run.run_id, [])
            report.runs_checked += 1
            report.files_checked += len(recorded) + len(mine)
            known = " [already excluded from results]" if run.tags.get(TAG_INTEGRITY) else ""
            report.mismatches += [f"{exp.name}: {m}{known}" for m in verify_run(tracker, run, mine)]
    for bdir in cached_baselines(wdir):
        if not (bdir / "baseline.json").exists():
            continue  # training never finished here: nothing was recorded, and nothing reuses it
        report.caches_checked += 1
        problems = cache_problems(bdir)
        if problems == ["baseline.json records no checksums (written by an older workbench)"]:
            report.unverifiable.append(f"baseline cache {bdir}: {problems[0]} (it is retrained when next used)")
            continue
        report.mismatches += [f"baseline cache {bdir}: {p}" for p in problems]
    return report


def recheck_finished(tracker: Tracker, experiment_id: str, finished: dict[str, RunRecord],
                     variant_ids: Iterable[str]) -> dict[str, str]:
    """Before a sweep reuses the FINISHED runs of ``variant_ids``: verify each one's stored files. Returns
    variant id -> why it must be measured again (its files changed, are missing, or were never checksummed);
    each such run is tagged ``workbench.integrity`` so that no sweep counts it as a result again."""
    from workbench.tracking import TAG_INTEGRITY, logged_models_by_run, recorded_sha256, verify_run

    wanted = [v for v in variant_ids if v in finished]
    if not wanted:
        return {}
    models = logged_models_by_run(tracker, experiment_id)
    stale: dict[str, str] = {}
    for vid in wanted:
        run = finished[vid]
        rid = run.run_id
        if not recorded_sha256(run.tags):
            stale[vid] = f"its FINISHED run {rid} was {UNVERIFIABLE.split(': ')[1]}"
            tracker.set_tags(rid, {TAG_INTEGRITY: UNVERIFIABLE})
            continue
        found = verify_run(tracker, run, models.get(rid, []))
        if found:
            first = str(found[0]).split(": ", 1)[1]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            stale[vid] = f"the stored files of its FINISHED run {rid} no longer match their checksums: {first}{more}"
            tracker.set_tags(rid, {TAG_INTEGRITY: f"mismatch: {first}{more}"[:5000]})
    return stale


def verify_sweep(tracker: Tracker, experiment_id: str, sweep_id: str) -> list[str]:
    """The mismatches of the runs a sweep's summary names (what ``report`` would show)."""
    from workbench.tracking import KIND_SWEEP, TAG_KIND, TAG_SWEEP, logged_models_by_run, verify_run

    parents = tracker.runs(experiment_id, f"tags.`{TAG_SWEEP}` = '{sweep_id}' and tags.`{TAG_KIND}` = '{KIND_SWEEP}'")
    if not parents:
        return []
    with tempfile.TemporaryDirectory(prefix="wb-verify-") as tmp:
        try:
            rows = json.loads(Path(tracker.download(parents[0].run_id, "summary.json", Path(tmp))).read_text())
        except Exception:  # noqa: BLE001 - no summary: the dashboard refuses the sweep itself
            return []
    run_ids = sorted({r["run_id"] for r in rows if isinstance(r, dict) and r.get("run_id")})
    if not run_ids:
        return []
    models = logged_models_by_run(tracker, experiment_id)
    found: list[str] = []
    for rid in run_ids:
        found += [str(m) for m in verify_run(tracker, tracker.get_run(rid), models.get(rid, []))]
    return found


def refuse_if_tampered(tracker: Tracker, experiment_id: str, sweep_id: str) -> None:
    """IntegrityError (one line) when a result of the sweep no longer matches its recorded checksums."""
    found = verify_sweep(tracker, experiment_id, sweep_id)
    if found:
        more = f" (and {len(found) - 1} more; `workbench verify` lists them)" if len(found) > 1 else ""
        raise IntegrityError(f"sweep {sweep_id}: {found[0]}{more}; its numbers no longer describe the stored "
                             "files: run the experiment again (`workbench run FILE` measures such results afresh)")
