"""Pareto fronts and recommendations are pure functions of the metric rows."""

from workbench.analysis.pareto import ACC_VS_SIZE, budget_violations, dominates, pareto_front, recommend
from workbench.spec import BudgetSpec

ROWS = [
    {"variant": "float32", "accuracy": 0.98, "accuracy_delta": 0.0, "latency_ms_p50": 5.0, "size_bytes": 300e3},
    {"variant": "int8", "accuracy": 0.98, "accuracy_delta": 0.0, "latency_ms_p50": 2.0, "size_bytes": 80e3},
    {"variant": "tiny", "accuracy": 0.95, "accuracy_delta": -3.0, "latency_ms_p50": 1.0, "size_bytes": 10e3},
    {"variant": "slow_bad", "accuracy": 0.90, "accuracy_delta": -8.0, "latency_ms_p50": 6.0, "size_bytes": 500e3},
    {"variant": "int8_twin", "accuracy": 0.98, "accuracy_delta": 0.0, "latency_ms_p50": 2.0, "size_bytes": 81e3},
]


def test_front_accuracy_vs_latency():
    assert sorted(pareto_front(ROWS)) == ["int8", "int8_twin", "tiny"]  # equal points do not dominate each other


def test_front_accuracy_vs_size():
    assert sorted(pareto_front(ROWS, ACC_VS_SIZE)) == ["int8", "tiny"]


def test_dominates_needs_strict_improvement():
    assert not dominates(ROWS[1], ROWS[4], (("accuracy", "max"), ("latency_ms_p50", "min")))
    assert dominates(ROWS[1], ROWS[0], (("accuracy", "max"), ("latency_ms_p50", "min")))


def test_recommend_best_accuracy_within_budgets_tie_broken_by_latency():
    rec, why = recommend(ROWS, BudgetSpec(max_accuracy_drop=1.0, max_size_kb=100))
    assert rec["variant"] == "int8" and why == []


def test_recommend_explains_when_nothing_fits():
    rec, why = recommend(ROWS, BudgetSpec(max_accuracy_drop=1.0, max_latency_ms=1.5))
    assert rec is None
    # closest = fewest budgets broken, then best accuracy: the three 0.98 variants, each only too slow
    assert [w.split(":")[0] for w in why] == ["float32", "int8", "int8_twin"]
    assert all("max_latency_ms 1.5" in w and "max_accuracy_drop" not in w for w in why)


def test_budget_violations_phrasing():
    assert budget_violations(ROWS[2], BudgetSpec(max_accuracy_drop=1.0)) == ["max_accuracy_drop 1 pts (drop 3.00)"]
    assert budget_violations(ROWS[1], BudgetSpec(max_memory_mb=50)) == []  # no memory metric: not a violation
