"""`workbench ui` (make ui): prints each experiment's model-training address, then becomes the MLflow UI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ui_prints_the_training_view_address_of_each_experiment(tmp_path: Path) -> None:
    from workbench.run.task import kill_tree
    from workbench.tracking import EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND, Tracker

    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("digits-quick")
    tr.end_run(tr.start_run(exp, "v", {"workbench.kind": "variant"}))
    tr.experiment_id("empty")  # no runs: not listed
    assert tr.experiment_by_id(exp).tags[TAG_EXPERIMENT_KIND] == EXPERIMENT_KIND_TRAINING
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "ui", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                            env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"})
    try:
        first = proc.stdout.readline() if proc.stdout else ""
    finally:
        kill_tree(proc.pid)
        proc.wait()
    assert first.strip() == (f"digits-quick: http://127.0.0.1:{port}/#/experiments/{exp}/runs"
                             "?workflowType=machine_learning")


def test_ui_against_a_tracking_server_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "ui"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not reachable" in proc.stderr, proc.stderr
