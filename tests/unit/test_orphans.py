"""A variant's tree dies with its supervisor (the tether), a re-run ends what a dead supervisor left, and a run
settled by its sweep takes no more writes (issue 20)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import alive_pids
from workbench.errors import RunSettled
from workbench.run.orphans import TREE_ENV, end_orphans

SUPERVISOR = textwrap.dedent("""\
    import subprocess, sys, time
    from pathlib import Path
    from workbench.run.orphans import start_tree
    # a tree like papermill's: a child in its own session (the kernel) with a child of its own (the runner)
    cmd = [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['setsid', 'sleep', '300']); "
                                 "subprocess.Popen(['sleep', '300']); time.sleep(300)"]
    proc, fd = start_tree(cmd, Path(sys.argv[1]), "run1")
    print(proc.pid, flush=True)
    time.sleep(300)
    """)


def test_the_tree_dies_with_its_supervisor_however_it_dies(tmp_path: Path) -> None:
    sup = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        tether = int(sup.stdout.readline())  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        tree: list[int] = []
        while len(tree) < 4 and time.monotonic() < deadline:  # tether, its child, two grandchildren
            time.sleep(0.1)
            tree = [tether, *(p.pid for p in psutil.Process(tether).children(recursive=True))]
        assert len(tree) >= 4, tree
        assert all(psutil.Process(p).environ().get(TREE_ENV) == "run1" for p in tree)
        record = json.loads((tmp_path / "procs" / "run1.json").read_text())
        assert record["pid"] == tether and record["supervisor_pid"] == sup.pid
        sup.send_signal(signal.SIGKILL)
        sup.wait()
        while alive_pids(tree) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
        assert not alive_pids(tree), "the tree outlived its supervisor"
    finally:
        sup.kill()
        for pid in alive_pids(locals().get("tree", [])):
            os.kill(pid, signal.SIGKILL)


def test_a_rerun_ends_what_a_dead_supervisor_left(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    procs = tmp_path / "procs"
    procs.mkdir()
    left = subprocess.Popen(["sleep", "300"], env={**os.environ, TREE_ENV: "dead-run"})
    mine = subprocess.Popen(["sleep", "300"], env={**os.environ, TREE_ENV: "live-run"})
    try:
        me = psutil.Process()
        (procs / "dead-run.json").write_text(json.dumps({
            "run_id": "dead-run", "pid": gone.pid, "started": 0.0, "host": os.uname().nodename,
            "supervisor_pid": gone.pid, "supervisor_started": 0.0}))
        (procs / "live-run.json").write_text(json.dumps({
            "run_id": "live-run", "pid": mine.pid, "started": round(psutil.Process(mine.pid).create_time(), 2),
            "host": os.uname().nodename, "supervisor_pid": me.pid, "supervisor_started": round(me.create_time(), 2)}))
        assert end_orphans(tmp_path) == [left.pid]
        assert not alive_pids([left.pid])  # (psutil reaped it: Popen cannot tell the signal any more)
        assert mine.poll() is None  # its supervisor (this process) is alive: not an orphan
        assert sorted(p.name for p in procs.iterdir()) == ["live-run.json"]
    finally:
        left.kill()
        mine.kill()
        left.wait()
        mine.wait()


def test_a_run_settled_by_its_sweep_takes_no_more_writes(tmp_path: Path) -> None:
    from workbench.tracking import RunStatus, Tracker

    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("guarded")
    run_id = tr.start_run(exp, "v", {})
    tr.guard(run_id)
    tr.log(run_id, metrics={"accuracy": 0.5})
    Tracker(root=tmp_path).end_run(run_id, RunStatus.KILLED)  # the sweep settles it (another process, typically)
    with pytest.raises(RunSettled, match="settled KILLED"):
        tr.log(run_id, metrics={"accuracy": 0.9, "size_bytes": 10.0})
    with pytest.raises(RunSettled):
        tr.log_text(run_id, "x", "x.txt")
    assert tr.get_run(run_id).metrics == {"accuracy": 0.5}
