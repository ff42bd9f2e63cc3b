"""Execute one variant as a papermill run in its own process tree, and settle its MLflow run.

Used unchanged by every executor (local pool, Dask worker). The child run is created here, right
before the notebook starts, as the variant's **claim** (it carries the sweep's lease): if another live
sweep claimed the variant first, or it FINISHED meanwhile, the claim is withdrawn and the variant reported
as held elsewhere. The run is ended here: FINISHED only after the executed notebook is logged, so a sweep
killed at any moment leaves at worst a RUNNING run, which the next sweep settles KILLED once its lease
says the owner is gone, and redoes. While the notebook runs, the store is polled: when the sweep's parent
run (or this run) has been ended — the sweep was interrupted, or settled by another sweep — the whole
process tree is stopped, also on a Dask worker the supervisor cannot reach. The tree runs under a tether
(``run/tether.py``) that kills it the moment this process dies, ``kill -9`` included (``run/orphans.py``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.files import atomic_write
from workbench.run.orphans import end_tree, start_tree
from workbench.run.status import Outcome, Stop, StopReason, VariantStatus
from workbench.spec.plan import Plan, PlannedVariant

if TYPE_CHECKING:
    from workbench.tracking import Lease, Tracker

# the notebook papermill executes for each variant: package data, so an installed (non-editable) package sweeps
# too; notebooks/variant.ipynb in the checkout is a symlink to it for JupyterLab
NOTEBOOK = Path(str(files("workbench").joinpath("notebooks", "variant.ipynb")))
RUNNING_PIDS: set[int] = set()  # papermill processes started by this process (killed on Ctrl-C)
_STOP: list[Stop] = []  # set once by request_stop: no new variant starts, running ones are settled with it
_PIDS_LOCK = threading.Lock()
POLL_S = 10.0  # how often a running variant asks the store whether its sweep still wants it


@dataclass(frozen=True)
class VariantTask:
    """One planned variant to execute. Carries the plan itself (JSON), so a worker on another machine
    runs exactly what the sweep planned, whatever its copy of the experiment file says."""

    plan_json: str
    variant_id: str
    experiment_id: str
    parent_run_id: str
    sweep_id: str
    tracking_uri: str
    work_dir: str
    root: str
    output_dir: str
    timeout_s: float
    notebook: str = str(NOTEBOOK)
    lease: Lease | None = None  # the sweep's lease: the run is a claim (None: no claim, e.g. a test harness)
    finished_after_ms: int | None = 0  # a FINISHED run ended after this wins over our claim; None = --force

    @property
    def planned(self) -> PlannedVariant:
        return Plan.from_json(self.plan_json).variant(self.variant_id)

    @property
    def variant(self) -> str:
        return self.planned.name


def request_stop(stop: Stop) -> None:
    """Stop this process's variants: none starts from now on, and the running ones are settled KILLED with
    ``stop`` once their trees are killed (``kill_running``). The first stop given is kept."""
    if not _STOP:
        _STOP.append(stop)


def stop_reason() -> Stop | None:
    """The stop this process was asked for, if any."""
    return _STOP[0] if _STOP else None


def clear_stop() -> None:
    """Forget a previous stop (a new sweep in the same process, e.g. tests)."""
    _STOP.clear()


def kill_running(stop: Stop | None = None) -> None:
    """Kill every papermill tree this process started (used when the sweep is interrupted)."""
    request_stop(stop or Stop(StopReason.SIGNAL, "interrupted"))
    with _PIDS_LOCK:
        pids = list(RUNNING_PIDS)
    for pid in pids:
        kill_tree(pid)


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (papermill, its kernel, the profiling runner)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    # our own children are left to their Popen to reap: psutil would reap them first, and Popen.wait() in
    # the thread supervising one would then read the exit status as 0 (ECHILD), a kill mistaken for success
    mine = os.getpid()
    others = []
    for p in procs:
        try:
            if p.ppid() != mine:
                others.append(p)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(others, timeout=10)


def failure_from_notebook(path: Path) -> str | None:
    """'error in cell N (`source`): Name: message' from the first cell with an error output."""
    import nbformat

    if not path.exists():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return None
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = cell.source.strip().splitlines()[0][:80] if cell.source.strip() else ""
                evalue = str(out.get("evalue", "")).strip().splitlines()
                return f"error in cell {i} (`{src}`): {out.get('ename')}: {evalue[0][:300] if evalue else ''}"
    return None


_OS_ERROR_LINE = re.compile(r"^\w*Error: \[Errno (\d+)\] ([^\n]*?)(?:: '([^'\n]+)')?$", re.MULTILINE)


def _os_error_reason(log_text: str, out_nb: Path | None) -> str | None:
    """'disk full while writing <file>' from the last OS error in a papermill log (papermill itself failed to
    write, e.g. the executed notebook on a full disk: the notebook then holds no error cell)."""
    from workbench.files import OS_ERROR_WORDS

    found = list(_OS_ERROR_LINE.finditer(log_text))
    if not found:
        return None
    code, text, filename = int(found[-1].group(1)), found[-1].group(2), found[-1].group(3)
    words = OS_ERROR_WORDS.get(code, text)
    where = filename or (f"the executed notebook {out_nb}" if out_nb is not None else "")
    return f"failed: {words} while writing {where} ({text})" if where else f"failed: {words} ({text})"


def _crash_reason(log_text: str, rc: int, out_nb: Path | None = None) -> str:
    if "DeadKernelError" in log_text or "Kernel died" in log_text or "kernel died" in log_text.lower():
        return "crashed: the notebook kernel process died (killed or crashed)"
    if rc < 0:
        return f"crashed: papermill process killed by {signal.Signals(-rc).name}"
    named = _os_error_reason(log_text, out_nb)
    if named:
        return named
    tail = [ln for ln in log_text.strip().splitlines() if ln.strip()][-1:] or ["no output"]
    return f"failed: papermill exited with status {rc} ({tail[0][:200]})"


def papermill_parameters(task: VariantTask, plan_path: Path, run_id: str) -> dict[str, str]:
    """What the sweep passes to the notebook (a test checks the notebook declares each of these)."""
    return {"plan": str(plan_path), "variant_id": task.variant_id, "work_dir": task.work_dir,
            "tracking_uri": task.tracking_uri, "run_id": run_id, "sweep_id": task.sweep_id}


def papermill_command(task: VariantTask, out_nb: Path, plan_path: Path, run_id: str) -> list[str]:
    params = papermill_parameters(task, plan_path, run_id)
    cmd = [sys.executable, "-m", "workbench.run.papermill_main", task.notebook, str(out_nb), "--cwd", task.root, "-k", "python3",
           "--no-progress-bar", "--log-level", "WARNING"]
    for k, v in params.items():
        cmd += ["-r", k, v]
    return cmd


def _stop_asked(tr: Tracker, task: VariantTask, run_id: str, last_ok: list[float]) -> Stop | None:
    """Why this variant must stop now (None = keep going): this process was interrupted, the sweep's parent run
    or this run was ended in the store, or the store stayed unreachable past the retry budget."""
    if stop_reason():
        return stop_reason()
    if task.lease is None:
        return None
    from workbench.tracking import RunStatus, short_error

    try:
        parent = tr.poll_run(task.parent_run_id)
        own = tr.poll_run(run_id)
    except Exception as exc:  # judged below by how long the store has been silent
        if time.monotonic() - last_ok[0] > tr.retry_s:
            return Stop.tracking_lost(f"{tr.uri} unreachable for {tr.retry_s:g}s ({short_error(exc)})")
        return None
    last_ok[0] = time.monotonic()
    if own.status != RunStatus.RUNNING:
        return Stop(StopReason.RUN_SETTLED, f"its run was settled {own.status} by another sweep ({own.failure})")
    if parent.status != RunStatus.RUNNING:
        return Stop(StopReason.SWEEP_ENDED, parent.failure or f"its sweep ended ({parent.status})")
    return None


def execute_variant(task: VariantTask) -> Outcome:
    """Claim the variant (create its run), execute the notebook under a time limit, log it, end the run. A
    variant that failed because a disk refused (full, quota, read-only: the work directory, the store's) carries a
    ``StopReason.STORAGE`` stop: the sweep stops on it, since no later variant can do better."""
    from workbench.errors import StorageError
    from workbench.files import refuses_writes, storage_refusal

    try:
        done = _execute_variant(task)
    except OSError as exc:  # the work directory refused a folder or the log file
        if not storage_refusal(exc):
            raise
        from workbench.files import describe_os_error

        raise StorageError(describe_os_error(exc)) from None
    if done.status == VariantStatus.FAILED:
        if storage_refusal(done.reason):
            return replace(done, stop=Stop(StopReason.STORAGE, done.reason))
        refused = refuses_writes(Path(task.output_dir))  # e.g. papermill could not even write its log
        if refused:
            reason = f"{refused} on {task.output_dir} ({done.reason})"[:300]
            return replace(done, reason=reason, stop=Stop(StopReason.STORAGE, reason))
    return done


def stop_on_storage(outcome: Outcome, work_dir: Path) -> None:
    """A variant failed because a disk refused (full, quota, read-only): the sweep (or search) stops here, with one
    line (``StorageError``: exit 2), and settles what it still holds."""
    from workbench.errors import StorageError
    from workbench.files import storage_refusal

    stopped = outcome.stop is not None and outcome.stop.reason == StopReason.STORAGE
    if stopped or (outcome.status == VariantStatus.FAILED and storage_refusal(outcome.reason)):
        raise StorageError(f"variant {outcome.variant}: {outcome.reason.removeprefix('failed: ')}; free space (the "
                           f"work directory is {work_dir}; --work-dir moves it) and run the same command again, it "
                           "redoes only what is missing")


def stop_on_baseline(outcome: Outcome, work_dir: Path, baseline_id: str) -> None:
    """The float baseline was found unusable (its training diverged, its weights or outputs are NaN/Inf: the first
    variant to need it recorded why, ``baseline.refusal``): the sweep (or search) stops here, before any other
    variant starts, with that one line (``DataError``: exit 2), and settles what it still holds."""
    from workbench.baseline import refusal
    from workbench.errors import DataError

    if outcome.status == VariantStatus.FINISHED:
        return
    refused = refusal(work_dir, baseline_id)
    if refused is not None:
        request_stop(Stop(StopReason.BASELINE, refused))
        raise DataError(refused)


def _execute_variant(task: VariantTask) -> Outcome:
    from workbench import tracking
    from workbench.errors import StorageError, TrackingLost

    start = time.monotonic()
    plan = Plan.from_json(task.plan_json)
    planned = plan.variant(task.variant_id)

    def outcome(status: VariantStatus, reason: str, run_id: str = "", stop: Stop | None = None) -> Outcome:
        return Outcome(planned.name, task.variant_id, status, reason, run_id, time.monotonic() - start, stop)

    early = stop_reason()
    if early is not None:
        return outcome(VariantStatus.KILLED, early.text, stop=early)
    from workbench.baseline import refusal

    refused = refusal(Path(task.work_dir), plan.baseline_id)
    if refused is not None:  # a variant before this one found the float baseline unusable: none is started
        return outcome(VariantStatus.KILLED, refused, stop=Stop(StopReason.BASELINE, refused))
    out_dir = Path(task.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.json"
    if not plan_path.exists():
        atomic_write(plan_path, task.plan_json)
    out_nb, log_path = out_dir / f"{planned.name}.ipynb", out_dir / f"{planned.name}.log"
    tr = tracking.Tracker(task.tracking_uri, Path(task.root))
    tags = tracking.variant_run_tags(plan, planned, task.sweep_id)
    if task.lease is not None:
        tags.update(task.lease.tags())
    try:
        run_id = tr.start_run(task.experiment_id, planned.name, tags, task.parent_run_id)
        if task.lease is not None:
            claim = tr.claim(task.experiment_id, run_id, task.variant_id, task.lease, task.finished_after_ms)
            if not claim.won:
                return outcome(VariantStatus.ELSEWHERE, claim.reason, claim.holder_run_id)
    except TrackingLost as exc:
        return outcome(VariantStatus.LOST, str(exc), stop=Stop(StopReason.TRACKING_LOST, str(exc), str(exc)))
    except StorageError:  # the store's disk refused: the sweep stops with the store's one line
        raise
    except Exception as exc:
        return outcome(VariantStatus.FAILED, f"tracking: cannot create run ({exc})"[:300])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    reason = ""
    stopped: Stop | None = None  # stopped from outside: settled KILLED
    cause: Stop | None = None  # ended by itself or its time limit: FAILED with this cause
    rc: int | None = None
    with open(log_path, "w") as log:
        with _PIDS_LOCK:
            if stop_reason():
                stopped = stop_reason()
            else:
                # under the tether: the tree dies with this process, however it dies (run/tether.py)
                proc, watch_fd = start_tree(papermill_command(task, out_nb, plan_path, run_id), Path(task.work_dir),
                                            run_id, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, cwd=task.root)
                RUNNING_PIDS.add(proc.pid)
        if stopped is None:
            last_ok = [time.monotonic()]
            deadline = start + task.timeout_s
            try:
                while True:
                    try:
                        rc = proc.wait(timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
                        break
                    except subprocess.TimeoutExpired:
                        if time.monotonic() >= deadline:
                            kill_tree(proc.pid)
                            proc.wait()
                            rc = None
                            cause = Stop(StopReason.TIMEOUT,
                                         f"timeout: exceeded the variant time limit of {task.timeout_s:g}s")
                            reason = cause.text
                            break
                        stopped = _stop_asked(tr, task, run_id, last_ok)
                        if stopped is not None:
                            kill_tree(proc.pid)
                            proc.wait()
                            rc = None
                            break
            finally:
                with _PIDS_LOCK:
                    RUNNING_PIDS.discard(proc.pid)
                end_tree(Path(task.work_dir), run_id, watch_fd)  # ended (or abandoned: the tether then ends it)
            if rc is not None and rc != 0 and stop_reason():
                stopped = stop_reason()  # killed by kill_running: say why, not "crashed"
    late = stop_reason()
    if stopped is None and late is not None and rc == 0:  # ended as the stop came: FINISHED only if complete
        try:
            if not tr.get_run(run_id).complete:
                stopped = late
        except Exception:
            stopped = late
    if stopped is not None:
        return _settle_stopped(tr, run_id, out_nb, log_path, stopped, outcome)
    if rc is not None and rc != 0:
        reason = failure_from_notebook(out_nb) or _crash_reason(log_path.read_text(errors="replace"), rc, out_nb)
        cause = Stop(StopReason.NOTEBOOK_ERROR, reason)
    status = VariantStatus.FINISHED if rc == 0 else VariantStatus.FAILED
    try:
        if out_nb.exists():
            tr.log_artifact(run_id, out_nb, "notebook")
        tr.log_artifact(run_id, log_path, "notebook")
        run = tr.get_run(run_id)
        if run.status != tracking.RunStatus.RUNNING:  # settled by another sweep meanwhile: not ours to end any more
            return outcome(VariantStatus.FAILED, f"its run was settled {run.status} by another sweep while it ran "
                                                 f"({run.failure})"[:300], run_id)
        if status == VariantStatus.FINISHED and not run.complete:
            status, reason = VariantStatus.FAILED, "failed: the notebook finished without logging its metrics"
            cause = Stop(StopReason.NOTEBOOK_ERROR, reason)
        if status == VariantStatus.FAILED:
            tr.set_tags(run_id, {tracking.TAG_FAILURE: reason, tracking.TAG_NOTE: f"Variant failed: {reason}"})
        tr.end_run(run_id, tracking.RunStatus(status))
    except TrackingLost as exc:
        return outcome(VariantStatus.LOST, str(exc), run_id, Stop(StopReason.TRACKING_LOST, str(exc), str(exc)))
    except Exception as exc:
        status, reason = VariantStatus.FAILED, f"tracking: could not settle run ({str(exc)[:200]})"
        cause = Stop(StopReason.ERROR, reason)
    return outcome(status, reason, run_id, cause)


def _settle_stopped(tr: Tracker, run_id: str, out_nb: Path, log_path: Path, why: Stop,
                    outcome: Callable[..., Outcome]) -> Outcome:
    """The variant was stopped (interrupted, its sweep ended, its run settled elsewhere, the store lost):
    end its run KILLED with the reason, unless it is no longer ours or the store is gone."""
    from workbench.tracking import TAG_NOTE, RunStatus, Tracker

    if why.reason == StopReason.TRACKING_LOST:
        return outcome(VariantStatus.LOST, why.text, run_id, why)
    if why.reason == StopReason.RUN_SETTLED:
        return outcome(VariantStatus.KILLED, why.text, run_id, why)
    quick = Tracker(tr.uri, tr.root, retry_s=10)  # the store is up: ride out a locked or busy moment, briefly
    try:
        if quick.get_run(run_id).status != RunStatus.RUNNING:
            return outcome(VariantStatus.KILLED, why.text, run_id, why)  # the sweep settled it already
        for path in (out_nb, log_path):
            if path.exists():
                quick.log_artifact(run_id, path, "notebook")
        quick.set_tags(run_id, {TAG_NOTE: f"Variant stopped: {why.text}"})
    except Exception:  # noqa: S110 - the notebook is a nicety; settling below is what matters
        pass
    quick.try_settle(run_id, RunStatus.KILLED, why.text)
    return outcome(VariantStatus.KILLED, why.text, run_id, why)
