"""The experiment's task (pure): built-in metrics, the spec's rules, labels, and the primary metric driving
budgets, the Pareto fronts, the recommendation, the nightly gate and the dashboard."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from workbench.analysis.pareto import budget_violations
from workbench.analysis.recommend import decide
from workbench.analysis.regressions import regressions_between
from workbench.analysis.scores import mae, rmse, task_metrics, top_k, with_deltas
from workbench.catalog.metrics import FIDELITY, METRICS, TASK_METRICS, cell, heading, task_columns
from workbench.data import _finish
from workbench.errors import DataError
from workbench.spec import ExperimentSpec, TaskSpec
from workbench.tflite_model import accuracy

BASE = {"name": "t", "baseline": {"model": "m.keras", "dataset": "d:f", "training": {"epochs": 0}},
        "variants": [{"name": "int8", "quantization": "int8"}]}


def _spec(**extra: object) -> ExperimentSpec:
    return ExperimentSpec.model_validate({**BASE, **extra})


def test_builtin_metrics_are_declared_once_with_unit_and_direction():
    for short, name in TASK_METRICS.items():
        m = METRICS[name]
        if name in FIDELITY:  # measured against the float model already: no change against it
            assert m.better in ("max", "min") and f"{name}_delta" not in METRICS, short
            continue
        assert m.better in ("max", "min") and m.unit and METRICS[f"{name}_delta"].better == m.better, short
    assert METRICS["mae"].better == "min" and METRICS["top5_accuracy"].unit == "fraction"


def test_top_k_mae_rmse():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5]])
    labels = np.array([1, 2, 0])
    assert top_k(labels, scores, 1) == pytest.approx(1 / 3) == accuracy(scores, labels)  # top-1 is accuracy
    assert top_k(labels, scores, 2) == pytest.approx(2 / 3) and top_k(labels, scores, 5) == 1.0
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([[1.5], [2.0], [2.0], [4.0]])
    assert mae(y, p) == pytest.approx(0.375) and rmse(y, p) == pytest.approx(np.sqrt(1.25 / 4))
    with pytest.raises(ValueError, match="values per sample"):
        mae(np.ones((4, 2)), p)


def test_the_task_spec_fits_its_kind():
    assert TaskSpec().primary_metric().name == "accuracy"  # today's default: nothing changes
    assert TaskSpec(kind="classification", metric="top5").primary_metric().name == "top5_accuracy"
    assert TaskSpec(kind="regression").primary_metric().name == "mae"
    two = TaskSpec(kind="multi_output", outputs={"kind": "top1", "age": "rmse"}, primary="age")
    assert [s.logged for s in two.scored()] == ["rmse/age", "accuracy/kind"] and two.labels == "outputs"
    user = TaskSpec(kind="regression", metric={"function": "m:iou", "name": "iou", "better": "max"})
    assert user.primary_metric().better == "max" and user.user_functions() == ("m:iou",)
    for bad, message in (({"kind": "regression", "metric": "top5"}, "does not fit"),
                         ({"metric": "f1"}, "unknown metric 'f1'"),
                         ({"kind": "multi_output", "outputs": {"a": "mae"}, "primary": "b"}, "not one of the outputs"),
                         ({"kind": "regression", "metric": {"function": "m:f", "name": "mae", "better": "min"}},
                          "built-in metric's"),
                         ({"kind": "regression", "metric": {"function": "m.pkl", "name": "x", "better": "min"}},
                          "should match pattern")):
        with pytest.raises(ValidationError, match=message):
            TaskSpec.model_validate(bad)


def test_the_experiment_refuses_what_the_task_cannot_do():
    assert _spec(task={"kind": "regression"}, budgets={"max_delta": {"mae": 0.1}}).budgets.max_delta == {"mae": 0.1}
    with pytest.raises(ValidationError, match="max_delta: rmse is not a metric of this task"):
        _spec(task={"kind": "regression"}, budgets={"max_delta": {"rmse": 0.1}})
    with pytest.raises(ValidationError, match="variant d distills, which matches class probabilities"):
        _spec(task={"kind": "regression"}, variants=[{"name": "d", "steps": [{"technique": "distill"}]}])


def test_task_metrics_per_output_with_the_primary_under_its_plain_name_and_deltas():
    task = TaskSpec(kind="multi_output", outputs={"age": "mae", "kind": "top1"})
    ds = _finish("d", np.zeros((4, 2)), {"age": np.arange(4.0), "kind": np.array([0, 1, 0, 1])}, np.zeros((3, 2)),
                 {"age": np.array([1.0, 2.0, 3.0]), "kind": np.array([0, 1, 1])}, "outputs")
    outputs = {"kind": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), "age": np.array([[1.0], [2.5], [3.0]])}
    got = task_metrics(task, outputs, ds.y_test, {})
    assert got == pytest.approx({"mae/age": 0.5 / 3, "mae": 0.5 / 3, "accuracy/kind": 2 / 3})
    ref = {"kind": outputs["kind"], "age": np.array([[1.0], [2.0], [3.0]])}
    d = with_deltas(task, got, task_metrics(task, ref, ds.y_test, {}))
    assert d["mae_delta"] == pytest.approx(0.5 / 3) and d["accuracy_delta/kind"] == 0.0  # points for a fraction
    with pytest.raises(ValueError, match="task output 'age' is not an output of the model"):
        task_metrics(task, {"out": outputs["kind"]}, ds.y_test, {})


def test_regression_labels_are_values_and_checked():
    ds = _finish("r", np.zeros((4, 3)), np.array([0.5, 1.5, 2.5, -1.0]), np.zeros((2, 3)), np.array([1.0, 2.0]),
                 "values")
    assert ds.y_train.dtype == np.float32 and ds.labels == "values"
    with pytest.raises(DataError, match="y_test has 1 label for 2 samples"):
        _finish("r", np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3)), np.zeros(1), "values")
    with pytest.raises(DataError, match="needs y_train and y_test as dicts"):
        _finish("r", np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3)), np.zeros(2), "outputs")


def _row(name: str, mae_value: float, p50: float, size: float = 1000.0) -> dict:
    return {"variant": name, "variant_id": name, "technique": name, "status": "FINISHED", "run_id": name,
            "params": {}, "mae": mae_value, "mae_delta": mae_value - 0.40, "latency_ms_p50": p50, "size_bytes": size}


def test_a_lower_is_better_primary_drives_budgets_fronts_recommendation_and_the_gate():
    spec = _spec(task={"kind": "regression"}, budgets={"max_delta": {"mae": 0.05}, "max_latency_ms": 0.2})
    primary = spec.task.primary_metric()
    rows = [_row("float32", 0.40, 0.30), _row("int8", 0.43, 0.10), _row("int4ish", 0.60, 0.05)]
    assert budget_violations(rows[2], spec.budgets, primary) == ["max_delta mae 0.05 (worse by 0.2)"]
    rec = decide(rows, spec.budgets, "litert", primary=primary)
    assert rec.variant == "int8" and rec.primary.name == "mae"
    assert set(rec.front_latency) == {"float32", "int8", "int4ish"}
    loose = spec.budgets.model_copy(update={"max_delta": {}, "max_latency_ms": 0.2})
    assert decide(rows[1:], loose, "litert", primary=primary).variant == "int8"  # the lowest MAE, not the highest
    none = decide(rows, spec.budgets.model_copy(update={"max_latency_ms": 0.01}), "litert", primary=primary)
    assert none.variant is None and none.reasons[0].startswith("float32:")  # closest: the lowest MAE first
    rules = spec.regression
    assert regressions_between({"mae": 0.43}, {"mae": 0.40}, rules, primary=primary) == [
        "mae worse by 0.03 (0.4 -> 0.43)"]
    assert regressions_between({"mae": 0.39}, {"mae": 0.40}, rules, primary=primary) == []


def test_tables_show_the_primary_where_accuracy_stands():
    primary = METRICS["mae"]
    assert task_columns(("variant", "accuracy", "accuracy_delta", "size_bytes"), primary) == (
        "variant", "mae", "mae_delta", "size_bytes")
    user = TaskSpec(kind="regression", metric={"function": "m:f", "name": "iou", "better": "max"}).primary_metric()
    assert heading("iou_delta", primary=user) == "Δ iou" and cell("iou", 0.51234, primary=user) == "0.5123"


def test_the_dashboard_and_the_summary_speak_of_the_primary_metric():
    from workbench.views.dashboard import render
    from workbench.views.summary import recommendation

    spec = _spec(task={"kind": "regression"}, budgets={"max_delta": {"mae": 0.05}})
    rows = [_row("float32", 0.40, 0.30), _row("int8", 0.43, 0.10)]
    rec = decide(rows, spec.budgets, "litert", primary=spec.task.primary_metric())
    page = render(spec, "s1", rows, rec)
    assert "best MAE within every budget" in page and "<th onclick='sortTable(this)'>Δ MAE</th>" in page
    assert "mean absolute error (test split)" in page  # the charts' quality axis
    text = recommendation(spec, rows, rec.chosen, [])
    assert "the variant with the best MAE" in text
    assert "MAE 0.4, the same as float32 (MAE 0.4)" in text and "mae at most 0.05 worse than float32" in text


def test_a_user_metric_is_imported_only_from_the_project(tmp_path):
    from workbench.data import import_function

    (tmp_path / "my_task_metrics.py").write_text("def share(y_true, y_pred):\n    return 0.5\n")
    path_before = list(__import__("sys").path)
    # found from the project root without it on sys.path (a notebook kernel may start elsewhere), which is restored
    assert import_function("my_task_metrics:share", "task metric", tmp_path, only_root=True)(None, None) == 0.5
    assert __import__("sys").path == path_before
    with pytest.raises(DataError, match=r"task metric: json is .*outside the project"):
        import_function("json:dumps", "task metric", tmp_path, only_root=True)
    with pytest.raises(DataError, match="task metric: cannot import"):
        import_function("my_task_metrics:nope", "task metric", tmp_path, only_root=True)
