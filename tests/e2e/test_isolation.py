"""Sweeps survive failing variants, SIGKILL of the whole sweep, and run on Dask (issue 4)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, write_experiment
from workbench.run.task import kill_tree

pytestmark = pytest.mark.slow

FAULTY = REPO / "tests" / "data" / "faulty_variant.ipynb"


def variant_runs(root: Path, name: str):
    from workbench.tracking import Tracker

    tr = Tracker(root=root)
    exp = tr.experiment(name)
    if exp is None:
        return []
    return [r for r in tr.runs(exp.experiment_id) if r.tags.get("workbench.kind") == "variant"]


def _variants(*pairs: tuple[str, str]) -> str:
    """A `variants:` block from (name, quantization[, extra fields]) pairs."""
    return "variants:\n" + "".join(f"  - {{name: {n}, quantization: {q}}}\n" for n, q in pairs)


def test_raise_crash_timeout_are_isolated(project):
    from workbench.run.sweep import EXIT_FAILURES, run_sweep

    write_experiment(project, name="faults", variants=_variants(
        ("int8", "int8"), ("boom", "float16"), ("crash", "dynamic"), ("hang", "int8_io, timeout_s: 20")))
    result = run_sweep("experiments/faults.yaml", workers=2, notebook=FAULTY, progress=False)
    assert result.exit_code == EXIT_FAILURES
    status = {r["variant"]: (r["status"], r["reason"]) for r in result.rows}
    assert status["baseline"][0] == "FINISHED" and status["int8"][0] == "FINISHED"
    assert status["boom"][0] == "FAILED" and "RuntimeError: injected failure" in status["boom"][1]
    assert status["crash"][0] == "FAILED" and status["crash"][1].startswith("crashed")
    assert status["hang"][0] == "FAILED" and status["hang"][1].startswith("timeout")
    assert len({status[v][1] for v in ("boom", "crash", "hang")}) == 3
    runs = {r.tags["workbench.variant"]: r for r in variant_runs(project, "faults")}
    for name in ("boom", "crash", "hang"):
        assert runs[name].status == "FAILED"
        assert runs[name].tags["workbench.failure"] == status[name][1]
    from workbench.tracking import Tracker

    arts = [a.path for a in Tracker(root=project).list_artifacts(runs["boom"].run_id, "notebook")]
    assert "notebook/boom.ipynb" in arts  # the failed notebook is logged too
    assert not psutil.Process().children(recursive=True)  # nothing left running


def _variant_statuses(db: Path) -> list[str]:
    """Read-only peek at run statuses (no MLflow client: it would race the sweep's schema migration)."""
    import sqlite3

    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute("SELECT r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                               "WHERE t.key = 'workbench.kind' AND t.value = 'variant'").fetchall()
    except sqlite3.OperationalError:
        return []  # tables not created yet
    return [r[0] for r in rows]


def test_sigkill_then_rerun_completes_without_duplicates(project):
    write_experiment(project, name="killme", variants=_variants(
        *((m, m) for m in ("float32", "dynamic", "int8"))))  # two in flight (--workers 2), one waiting
    cmd = [sys.executable, "-m", "workbench.cli", "run", "experiments/killme.yaml", "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill as soon as one variant finished and others are in flight
        statuses = _variant_statuses(project / "mlflow.db")
        if "FINISHED" in statuses and "RUNNING" in statuses:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the sweep never reached a state worth killing")
    kill_tree(proc.pid)  # the whole tree: CLI, papermill, kernels, runners
    before = variant_runs(project, "killme")
    assert any(r.status == "RUNNING" for r in before)  # the kill left dangling runs behind

    again = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "KILLED" in again.stdout
    runs = variant_runs(project, "killme")
    finished = [r.tags["workbench.variant_id"] for r in runs if r.status == "FINISHED"]
    assert len(finished) == len(set(finished)) == 3
    assert not [r for r in runs if r.status == "RUNNING"]
    done_before = {r.run_id for r in before if r.status == "FINISHED"}
    assert done_before <= {r.run_id for r in runs if r.status == "FINISHED"}  # none lost


def test_dask_local_cluster_matches_local_plan(project):
    from distributed import LocalCluster

    from workbench.run.sweep import plan_experiment, run_sweep

    write_experiment(project, name="dasky")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_sweep("experiments/dasky.yaml", executor="dask", scheduler=cluster.scheduler_address,
                           progress=False)
    assert result.exit_code == 0, result.failed
    expected = {p.id for p in plan_experiment("experiments/dasky.yaml", project).variants}
    finished = {r.tags["workbench.variant_id"] for r in variant_runs(project, "dasky")
                if r.status == "FINISHED"}
    assert finished == expected and len(expected) == 2


def test_unreachable_dask_scheduler_is_one_line(project):
    write_experiment(project, name="nodask")
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "experiments/nodask.yaml", "--executor",
                           "dask", "--scheduler", "tcp://127.0.0.1:9"], cwd=project, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "Dask scheduler" in proc.stderr and "Traceback" not in proc.stderr
