"""Execute one variant as a papermill run in its own process tree, and settle its MLflow run.

Used unchanged by every executor (local pool, Dask worker). The child run is created here, right
before the notebook starts, and ended here: FINISHED only after the executed notebook is logged, so a
sweep killed at any moment leaves at worst a RUNNING run, which the next sweep marks KILLED and redoes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.files import atomic_write
from workbench.spec.plan import Plan, PlannedVariant

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "variant.ipynb"
RUNNING_PIDS: set[int] = set()  # papermill processes started by this process (killed on Ctrl-C)


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

    @property
    def planned(self) -> PlannedVariant:
        return Plan.from_json(self.plan_json).variant(self.variant_id)

    @property
    def variant(self) -> str:
        return self.planned.name


@dataclass(frozen=True)
class Outcome:
    variant: str
    variant_id: str
    status: str  # FINISHED | FAILED
    reason: str
    run_id: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kill_running() -> None:
    """Kill every papermill tree this process started (used when the sweep is interrupted)."""
    for pid in list(RUNNING_PIDS):
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
    psutil.wait_procs(procs, timeout=10)


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


def _crash_reason(log_text: str, rc: int) -> str:
    if "DeadKernelError" in log_text or "Kernel died" in log_text or "kernel died" in log_text.lower():
        return "crashed: the notebook kernel process died (killed or crashed)"
    if rc < 0:
        return f"crashed: papermill process killed by {signal.Signals(-rc).name}"
    tail = [ln for ln in log_text.strip().splitlines() if ln.strip()][-1:] or ["no output"]
    return f"failed: papermill exited with status {rc} ({tail[0][:200]})"


def papermill_parameters(task: VariantTask, plan_path: Path, run_id: str) -> dict[str, str]:
    """What the sweep passes to the notebook (a test checks the notebook declares each of these)."""
    return {"plan": str(plan_path), "variant_id": task.variant_id, "work_dir": task.work_dir,
            "tracking_uri": task.tracking_uri, "run_id": run_id, "sweep_id": task.sweep_id}


def papermill_command(task: VariantTask, out_nb: Path, plan_path: Path, run_id: str) -> list[str]:
    params = papermill_parameters(task, plan_path, run_id)
    cmd = [sys.executable, "-m", "papermill", task.notebook, str(out_nb), "--cwd", task.root, "-k", "python3",
           "--no-progress-bar", "--log-level", "WARNING"]
    for k, v in params.items():
        cmd += ["-r", k, v]
    return cmd


def execute_variant(task: VariantTask) -> Outcome:
    """Create the child run, execute the notebook under a time limit, log it, and end the run."""
    from workbench import tracking

    start = time.monotonic()
    plan = Plan.from_json(task.plan_json)
    planned = plan.variant(task.variant_id)
    out_dir = Path(task.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.json"
    if not plan_path.exists():
        atomic_write(plan_path, task.plan_json)
    out_nb, log_path = out_dir / f"{planned.name}.ipynb", out_dir / f"{planned.name}.log"
    tr = tracking.Tracker(task.tracking_uri, Path(task.root))
    try:
        run_id = tr.start_run(task.experiment_id, planned.name, tracking.variant_run_tags(plan, planned, task.sweep_id),
                              task.parent_run_id)
    except Exception as exc:
        return Outcome(planned.name, task.variant_id, "FAILED", f"tracking: cannot create run ({exc})"[:300], "",
                       time.monotonic() - start)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    reason = ""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(papermill_command(task, out_nb, plan_path, run_id), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=task.root, start_new_session=True)
        RUNNING_PIDS.add(proc.pid)
        try:
            rc = proc.wait(timeout=task.timeout_s)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            rc = None
            reason = f"timeout: exceeded the variant time limit of {task.timeout_s:g}s"
        finally:
            RUNNING_PIDS.discard(proc.pid)
    if rc is not None and rc != 0:
        reason = failure_from_notebook(out_nb) or _crash_reason(log_path.read_text(errors="replace"), rc)
    status = "FINISHED" if rc == 0 else "FAILED"
    try:
        if out_nb.exists():
            tr.log_artifact(run_id, out_nb, "notebook")
        tr.log_artifact(run_id, log_path, "notebook")
        if status == "FINISHED" and "accuracy" not in tr.get_run(run_id).data.metrics:
            status, reason = "FAILED", "failed: the notebook finished without logging its metrics"
        if status == "FAILED":
            tr.set_tags(run_id, {tracking.TAG_FAILURE: reason, "mlflow.note.content": f"Variant failed: {reason}"})
        tr.end_run(run_id, status)
    except Exception as exc:
        status, reason = "FAILED", f"tracking: could not settle run ({str(exc)[:200]})"
    return Outcome(planned.name, task.variant_id, status, reason, run_id, time.monotonic() - start)
