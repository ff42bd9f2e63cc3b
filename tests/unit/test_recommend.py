"""The sweep's decision (pure: rows and budgets in, a Recommendation out) and the dashboard that only renders it."""

from __future__ import annotations

import pytest

from workbench.analysis.recommend import axis_runtimes, decide
from workbench.spec import ExperimentSpec
from workbench.tracking import RunRecord, RunStatus


def _row(name: str, acc: float, p50: float, size: float, status: str = "FINISHED", **extra: object) -> dict:
    return {"variant": name, "variant_id": name * 4, "technique": f"ptq:{name}", "status": status, "reason": "",
            "run_id": f"run-{name}", "params": {}, "accuracy": acc, "accuracy_delta": (acc - 0.95) * 100,
            "latency_ms_p50": p50, "size_bytes": size, **extra}


ROWS = [_row("float32", 0.95, 0.30, 250_000.0), _row("int8", 0.948, 0.10, 70_000.0),
        _row("dyn", 0.90, 0.20, 60_000.0), _row("reused", 0.94, 0.50, 80_000.0, status="SKIPPED"),
        {"variant": "boom", "variant_id": "b", "technique": "prune", "status": "FAILED", "reason": "error in cell 3",
         "run_id": "run-boom", "params": {}}]


def _spec(profiles: list | None = None, **budgets: float) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "name": "e x", "description": "a <b>sweep</b>", "baseline": {"model": "digits_cnn", "dataset": "digits"},
        "budgets": budgets, "variants": [{"name": "int8", "quantization": "int8"}], "profiles": profiles or []})


def test_the_decision_picks_within_budgets_and_computes_each_front_once():
    rec = decide(ROWS, _spec(max_size_kb=100).budgets, "litert")  # no ties: any tie-breaking rule agrees
    assert rec.variant == "int8" and rec.run_id == "run-int8" and rec.reasons == ()
    assert [r["variant"] for r in rec.candidates] == ["float32", "int8", "dyn", "reused"]  # FAILED is no candidate
    assert set(rec.front_latency) == {"float32", "int8"} and set(rec.front_size) == {"float32", "int8", "dyn"}
    assert rec.variant_front == rec.front_latency and not rec.multi_runtime
    assert rec.fronts()["recommended"] == "int8"


def test_when_nothing_fits_the_decision_says_why():
    rec = decide(ROWS, _spec(max_size_kb=10).budgets, "litert")
    assert rec.chosen is None and rec.variant is None and rec.run_id is None
    assert rec.reasons and all("max_size_kb 10" in w for w in rec.reasons)


def test_profile_axes_on_other_runtimes_make_the_decision_over_pairs():
    profiles = [{"name": "ort", "runtime": "onnxruntime"}, {"name": "gpu", "runtime": "openvino", "accelerator": "gpu"}]
    assert axis_runtimes(profiles) == {"ort": "onnxruntime"}
    rows = [_row("float32", 0.95, 0.30, 250_000.0, **{"accuracy.ort": 0.951, "latency_ms_p50.ort": 0.05}),
            _row("int8", 0.948, 0.10, 70_000.0, axes_status={"ort": "FAILED: no .onnx"})]
    rec = decide(rows, _spec().budgets, "litert", axis_runtimes(profiles))
    assert rec.multi_runtime and rec.runtimes == ("litert", "onnxruntime")
    assert rec.variant == "float32 @ onnxruntime"  # the best accuracy of all pairs
    assert [p["status"] for p in rec.pairs if p["variant"] == "int8 @ onnxruntime"] == ["FAILED"]
    assert set(rec.variant_front) == {"float32", "int8"}  # the table's column is over variants


def test_the_dashboard_renders_records_into_text_and_escapes_them():
    from workbench.views.dashboard import render

    rows = [*ROWS[:2], _row("<script>x</script>", 0.5, 0.4, 1.0)]
    spec = _spec(max_size_kb=100)
    history = [RunRecord("r1", "1", "int8", RunStatus.FINISHED, 1_700_000_000_000, None,
                         tags={"workbench.variant_id": "int8" * 4}, metrics={"accuracy": 0.94, "latency_ms_p50": 0.1,
                                                                               "size_bytes": 7e4})]
    page = render(spec, "s1", rows, decide(rows, spec.budgets, "litert"), history)
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert "<title>e x — s1</title>" in page and "a &lt;b&gt;sweep&lt;/b&gt;" in page
    assert "<b>int8</b>" in page.split("id='recommended'>")[1][:200]
    assert "<script>x</script>" not in page.split("id='figures'")[0]  # escaped in the table and the lists
    assert "$" + "table" not in page and "id='runtimes'" not in page  # every placeholder filled; one runtime


@pytest.mark.parametrize("tags,metrics,complete", [
    ({"workbench.complete": "true"}, {}, True),
    ({}, {"accuracy": 0.9}, True),  # logged before the marker existed: its accuracy says it is complete
    ({}, {"latency_ms_p50": 0.1}, False),
    ({"workbench.complete": "false"}, {"accuracy": 0.9}, False),
])
def test_a_run_is_complete_by_its_marker_or_for_old_runs_by_its_accuracy(tags, metrics, complete):
    run = RunRecord("r", "1", "v", RunStatus.FINISHED, 0, None, tags=tags, metrics=metrics)
    assert run.complete is complete
