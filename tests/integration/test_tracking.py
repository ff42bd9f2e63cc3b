"""MLflow logging into a temporary embedded store."""

from __future__ import annotations

import pytest

from workbench.errors import TrackingError
from workbench.tracking import Tracker, flatten


def test_variant_run_with_logged_model(tmp_path):
    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    parent = tr.start_run(exp, "sweep", {"workbench.kind": "sweep"})
    child = tr.start_run(exp, "v", {"workbench.kind": "variant", "workbench.variant_id": "abc"}, parent)
    f = tmp_path / "m.tflite"
    f.write_bytes(b"TFL3" * 10)
    tr.log(child, params={"a.b": 1}, metrics={"accuracy": 0.9})
    tr.log_history(child, {"loss": [3.0, 2.0, 1.0]})
    model_id = tr.log_model(exp, child, "prune-sparsity0.8_int8", f, {"quantization": "int8"}, {"accuracy": 0.9}, {})
    tr.end_run(child)
    run = tr.get_run(child)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.params["a.b"] == "1"
    hist = tr.client.get_metric_history(child, "loss")
    assert [m.value for m in sorted(hist, key=lambda m: m.step)] == [3.0, 2.0, 1.0]
    assert set(tr.finished_variant_runs(exp)) == {"abc"}
    logged = tr.client.get_logged_model(model_id)
    assert logged.name == "prune-sparsity0_8_int8" and str(logged.status) == "READY"
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()


def test_dangling_runs_are_marked_killed(tmp_path):
    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    rid = tr.start_run(exp, "v", {"workbench.kind": "variant"})
    assert tr.mark_dangling(exp, "killed: test") == [rid]
    assert tr.get_run(rid).info.status == "KILLED"
    assert tr.runs(exp, statuses=["RUNNING"]) == []


def test_unreachable_server_is_one_line(monkeypatch):
    tr = Tracker("http://127.0.0.1:9")
    with pytest.raises(TrackingError) as info:
        tr.check()
    assert "not reachable" in str(info.value) and "\n" not in str(info.value)


def test_flatten_dotted_keys():
    assert flatten({"a": {"b": 1, "c": [{"d": 2}]}, "e": "x"}) == {"a.b": "1", "a.c.0.d": "2", "e": "x"}
