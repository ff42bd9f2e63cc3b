"""A task without labels (``kind: fidelity``): the primary metric is fidelity to the float model, a floor set by
``budgets.worst``; the recommendation takes the fastest variant that meets it, and the tables, the summary and
the dashboard speak of it. Pure: no TensorFlow."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.analysis.pareto import budget_violations
from workbench.analysis.recommend import decide
from workbench.analysis.scores import task_metrics
from workbench.catalog.metrics import CLI_TABLE, MLFLOW_RUNS_TABLE, RUNTIME_TABLE, heading, task_columns
from workbench.spec import ExperimentSpec, TaskSpec
from workbench.views.summary import fmt_budgets, recommendation, ship_rule

BASE = {"name": "f", "baseline": {"model": "m.keras", "dataset": "imgs"}, "task": {"kind": "fidelity"},
        "budgets": {"worst": {"snr_db": 30}}, "variants": [{"name": "int8", "quantization": "int8"}]}


def _spec(**extra: object) -> ExperimentSpec:
    return ExperimentSpec.model_validate({**BASE, **extra})


def _row(name: str, snr: float, p50: float, size: float, lo: float | None = None, hi: float | None = None) -> dict:
    ci = {"latency_ms_p50_ci_low": lo, "latency_ms_p50_ci_high": hi} if lo is not None else {}
    return {"variant": name, "variant_id": name, "technique": f"ptq:{name}", "status": "FINISHED", "reason": "",
            "run_id": f"run-{name}", "params": {}, "snr_db": snr, "cosine_similarity": 0.99, "max_abs_error": 0.1,
            "latency_ms_p50": p50, "size_bytes": size, **ci}


def test_the_fidelity_task_ranks_by_snr_and_needs_no_labels():
    task = _spec().task
    assert task.fidelity and task.labels == "none" and task.primary_metric().name == "snr_db"
    assert TaskSpec(kind="fidelity", metric="max_abs_error").primary_metric().better == "min"
    assert task.budget_names() == () and task_metrics(task, {"o": None}, None, {}) == {}  # type: ignore[dict-item]
    assert _spec().baseline.training.epochs == 0  # a model file as given


@pytest.mark.parametrize("extra, message", [
    ({"budgets": {}}, "give the worst fidelity you accept, e.g. budgets: {worst: {snr_db: 30}}"),
    ({"baseline": {"model": "digits_cnn", "dataset": "digits", "training": {"epochs": 0}}},
     "zoo model 'digits_cnn' would be trained"),
    ({"baseline": {"model": "m.keras", "dataset": "imgs", "training": {"epochs": 2}}},
     "baseline.training.epochs > 0, but there are no labels to train on"),
    ({"variants": [{"name": "p", "steps": [{"technique": "prune"}]}]}, "variant p has training-time steps"),
    ({"task": {"kind": "fidelity", "metric": "mae"}}, "fidelity: metric 'mae' does not fit"),
    ({"task": {"kind": "fidelity", "metric": {"function": "m:f", "name": "x", "better": "max"}}}, "has none"),
    ({"budgets": {"worst": {"snr_db": 30}, "max_delta": {"snr_db": 1}}}, "is not a metric of this task"),
    ({"budgets": {"worst": {"sparsity": 0.5}}}, "budgets.worst: sparsity is not a metric with a better direction"),
])
def test_what_a_fidelity_task_cannot_do_is_refused_at_validate(extra, message):
    with pytest.raises(ValidationError) as info:
        _spec(**extra)
    assert message in str(info.value)


def test_worst_budgets_limit_any_metric_by_its_direction():
    b = _spec(budgets={"worst": {"snr_db": 30, "max_abs_error": 0.2}}).budgets
    assert budget_violations(_row("a", 31.0, 1.0, 1.0), b) == []
    assert budget_violations(_row("b", 29.5, 1.0, 1.0), b) == ["worst snr_db 30 (below it: 29.5)"]
    assert budget_violations({**_row("c", 40.0, 1.0, 1.0), "max_abs_error": 0.3}, b) == [
        "worst max_abs_error 0.2 (above it: 0.3)"]
    assert budget_violations({**_row("d", float("nan"), 1.0, 1.0)}, b) == ["worst snr_db 30 (below it: nan)"]
    classifier = ExperimentSpec.model_validate({"name": "c", "baseline": {"model": "digits_cnn", "dataset": "digits"},
                                                "budgets": {"worst": {"snr_db": 25, "accuracy": 0.9}}})
    assert budget_violations({"accuracy": 0.95, "snr_db": 20.0}, classifier.budgets) == [
        "worst snr_db 25 (below it: 20)"]  # a labelled sweep can bound fidelity too


def test_the_recommendation_is_the_fastest_variant_that_meets_the_floor():
    spec = _spec()
    primary = spec.task.primary_metric()
    rows = [_row("float32", 200.0, 0.30, 250_000.0, 0.29, 0.31), _row("dynamic", 45.0, 0.20, 70_000.0, 0.19, 0.21),
            _row("int8", 38.0, 0.10, 65_000.0, 0.09, 0.11), _row("int4", 12.0, 0.05, 40_000.0, 0.04, 0.06)]
    rec = decide(rows, spec.budgets, "litert", primary=primary)
    assert rec.variant == "int8"  # not float32 (the most faithful), not int4 (below 30 dB)
    assert set(rec.front_latency) == {"float32", "dynamic", "int8", "int4"}  # SNR against latency: all optimal
    tied = [_row("float32", 200.0, 0.10, 250_000.0, 0.09, 0.12), _row("int8", 38.0, 0.10, 65_000.0, 0.09, 0.11)]
    assert decide(tied, spec.budgets, "litert", primary=primary).variant == "int8"  # a latency tie: smaller file
    none = decide(rows[3:], spec.budgets, "litert", primary=primary)
    assert none.chosen is None and none.reasons == ("int4: exceeds worst snr_db 30 (below it: 12)",)


def test_tables_summary_and_budgets_speak_of_fidelity():
    spec = _spec()
    primary = spec.task.primary_metric()
    assert task_columns(CLI_TABLE, primary)[2:4] == ("snr_db", "max_abs_error")
    assert task_columns(RUNTIME_TABLE, primary).count("snr_db") == 1
    assert task_columns(MLFLOW_RUNS_TABLE, primary)[0] == "snr_db"
    assert heading("snr_db", primary=primary) == "SNR dB"
    assert "the fastest variant within every budget (SNR dB against float32 is a floor)" in ship_rule(primary)
    assert fmt_budgets(spec) == "snr_db ≥ 30"
    text = recommendation(spec, [_row("int8", 38.0, 0.1, 65_000.0)], _row("int8", 38.0, 0.1, 65_000.0), [])
    assert "SNR dB 38.0 against float32" in text


def test_the_dashboard_says_fidelity_is_a_floor():
    from workbench.views.dashboard import render

    spec = _spec()
    rows = [_row("float32", 200.0, 0.30, 250_000.0), _row("int8", 38.0, 0.10, 65_000.0)]
    rec = decide(rows, spec.budgets, "litert", primary=spec.task.primary_metric())
    page = render(spec, "s1", rows, rec)
    assert "SNR dB 38.0 against float32" in page and "SNR dB against float32 is a floor" in page
    assert "accuracy" not in page.split("<h2>All variants</h2>")[1].split("</table>")[0].lower()
