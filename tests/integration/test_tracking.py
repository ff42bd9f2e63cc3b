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
    assert run.status == "FINISHED"
    assert run.tags["mlflow.parentRunId"] == parent
    assert run.params["a.b"] == "1"
    assert tr.metric_history(child, "loss") == [3.0, 2.0, 1.0]
    assert set(tr.finished_variant_runs(exp)) == {"abc"}
    logged = tr.logged_model(model_id)
    assert logged.name == "t-prune-sparsity0_8_int8" and logged.status == "READY"  # <experiment>-<variant>
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()


def test_only_runs_whose_owner_is_gone_are_settled(tmp_path):
    """RUNNING alone never gets a run killed: no lease (explorer, profile --log-to) or a live lease stays."""
    import dataclasses

    from workbench.tracking import Lease

    tr = Tracker(root=tmp_path)
    exp = tr.experiment_id("t")
    no_lease = tr.start_run(exp, "explorer", {"workbench.kind": "variant"})
    live = tr.start_run(exp, "v", {"workbench.kind": "variant", **Lease.mine().tags()})
    expired = tr.start_run(exp, "v", {"workbench.kind": "variant", **Lease.mine(ttl_s=-1).tags()})
    assert tr.settle_abandoned(exp) == [expired]
    assert tr.get_run(expired).status == "KILLED"
    assert "lease of its sweep process" in tr.get_run(expired).tags["workbench.failure"]
    assert {r.run_id for r in tr.runs(exp, statuses=["RUNNING"])} == {no_lease, live}
    dead = dataclasses.replace(Lease.mine(), pid=2**22 + 17)  # this host, no such process
    gone = tr.start_run(exp, "v", {"workbench.kind": "variant", **dead.tags()})
    assert tr.settle_abandoned(exp) == [gone]
    assert "has ended" in tr.get_run(gone).tags["workbench.failure"]


def test_unreachable_server_is_one_line(monkeypatch):
    tr = Tracker("http://127.0.0.1:9")
    with pytest.raises(TrackingError) as info:
        tr.check()
    assert "not reachable" in str(info.value) and "\n" not in str(info.value)


def test_flatten_dotted_keys():
    assert flatten({"a": {"b": 1, "c": [{"d": 2}]}, "e": "x"}) == {"a.b": "1", "a.c.0.d": "2", "e": "x"}
