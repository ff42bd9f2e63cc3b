"""``kill -9`` of a sweep: its variant's whole process tree dies within 5 s, and the run the next sweep settles
KILLED gains nothing afterwards (issue 20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO, alive_pids
from tests.e2e.fault_rows import Row, fault_row

pytestmark = pytest.mark.slow

STUB = REPO / "tests" / "data" / "stub_variant.ipynb"
DRIVER = textwrap.dedent(f"""\
    import sys
    import workbench.run.sweep as sweep
    sweep.NOTEBOOK = {str(STUB)!r}  # the stand-in notebook (no TensorFlow): a kernel with a child, then metrics
    from workbench.cli import main
    main(sys.argv[1:])
    """)
ONE = "name: one\nbaseline: {model: digits_cnn, dataset: digits}\nvariants: [{name: float32, quantization: float32}]\n"


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "WORKBENCH_CLAIM_SETTLE_S": "0.2", **extra}


def _variant_runs(root: Path) -> list:
    from workbench.tracking import Tracker

    tr = Tracker(root=root)
    exp = tr.experiment("one")
    return [r for r in tr.runs(exp.experiment_id) if r.tags.get("workbench.kind") == "variant"] if exp else []


def test_kill_9_of_the_sweep_ends_its_tree_and_the_killed_run_gains_nothing(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with fault_row(tmp_path_factory.getbasetemp(), "signal-SIGKILL-tree-dies", "signals",
                   "`kill -9` of the supervisor while a variant's notebook runs; then what the next sweep does "
                   "first") as row:
        _kill_9(tmp_path, row)


def _kill_9(tmp_path: Path, row: Row) -> None:
    (tmp_path / "one.yaml").write_text(ONE)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    sleep_s = 8.0  # the stub logs its metrics after this: an orphan would write them into the KILLED run
    err = open(tmp_path / "stderr.txt", "w+")
    sup = subprocess.Popen([sys.executable, "-c", DRIVER, "run", "one.yaml", "--no-progress"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                           env=_env({"STUB_PID_DIR": str(pid_dir), "STUB_SLEEP_S": str(sleep_s)}))
    try:
        deadline = time.monotonic() + 150  # the kernel starts in ~10 s idle, far slower on a loaded machine
        while not list(pid_dir.glob("*.pids")) and time.monotonic() < deadline:
            assert sup.poll() is None, "the sweep ended before its notebook started"
            time.sleep(0.2)
        tree = [p.pid for p in psutil.Process(sup.pid).children(recursive=True)]
        kernel_and_child = [int(p) for p in next(pid_dir.glob("*.pids")).read_text().split()]
        assert set(kernel_and_child) <= set(tree) and len(tree) >= 4  # tether, papermill, kernel, its child
        killed_at = time.monotonic()
        os.kill(sup.pid, signal.SIGKILL)  # the supervisor alone (its tree runs in another session)
        row.exit = sup.wait()
        while alive_pids(tree) and time.monotonic() - killed_at < 5:
            time.sleep(0.1)
        gone_s = time.monotonic() - killed_at
        survivors = alive_pids(tree)
        err.seek(0)
        row.output(err.read(), tmp=tmp_path)
        assert not survivors, f"alive 5 s after the supervisor died: {survivors}"
    finally:
        from workbench.run.task import kill_tree

        err.close()
        for pid in [sup.pid, *alive_pids(locals().get("tree", []))]:
            kill_tree(pid)
    from workbench.run.orphans import end_orphans
    from workbench.tracking import Tracker

    tr = Tracker(root=tmp_path)  # what the next sweep does first: end what is left, settle the dead sweep's runs
    assert end_orphans(tmp_path / ".workbench") == []  # nothing was left to end
    assert not list((tmp_path / ".workbench" / "procs").glob("*.json"))  # and the dead sweep's record is gone
    exp_id = tr.experiment("one").experiment_id
    [orphaned] = _variant_runs(tmp_path)
    assert orphaned.run_id in tr.settle_abandoned(exp_id)  # (with its sweep run)
    time.sleep(max(0.0, sleep_s + 2 - (time.monotonic() - killed_at)))  # past the moment the stub would log
    [after] = _variant_runs(tmp_path)
    assert after.status == "KILLED" and not after.metrics, (after.status, after.metrics)
    row.runs_created = len(tr.runs(exp_id))
    row.note = (f"{len(tree)} processes (tether, papermill, kernel, its child) gone {gone_s:.1f} s after; the run "
                f"settled KILLED has {len(after.metrics)} metrics {sleep_s + 2:.0f} s later")
