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


def _q(name, quant, acc, p50, lo, hi, size, steps=0):
    """A row as the sweep reads it: speed-up interval over rounds, Wilson interval on 360 samples."""
    return {"variant": name, "accuracy": acc, "accuracy_delta": 0.0, "accuracy_ci_low": acc - 0.015,
            "accuracy_ci_high": acc + 0.01, "latency_ms_p50": p50, "speedup_vs_float": 2.0,
            "speedup_vs_float_ci_low": lo, "speedup_vs_float_ci_high": hi, "size_bytes": size,
            "params": {"variant.quantization": quant,
                       **{f"variant.steps.{i}.technique": "prune" for i in range(steps)}}}


def test_a_latency_difference_inside_the_noise_is_a_tie_broken_towards_float_io():
    rows = [_q("int8_io", "int8_io", 0.9833, 0.003695, 2.0, 2.3, 10_800),  # faster by 1.4%, within noise
            _q("int8", "int8", 0.9833, 0.003746, 1.95, 2.25, 10_854)]
    rec, why = recommend(rows, BudgetSpec())
    assert rec["variant"] == "int8" and why == []  # the old rule picked int8_io on 3.695 vs 3.746 µs
    assert [t["variant"] for t in rec["tied_with"]] == ["int8_io"]
    assert rec["tie_reason"].startswith("float I/O needs no integration step")


def test_a_tie_goes_to_fewer_training_steps_then_the_smaller_file():
    rows = [_q("pruned_int8", "int8", 0.985, 0.0030, 2.0, 2.4, 9_000, steps=1),
            _q("int8", "int8", 0.983, 0.0031, 1.9, 2.3, 10_854)]
    rec, _ = recommend(rows, BudgetSpec())
    assert rec["variant"] == "int8" and rec["tie_reason"] == "fewer training steps (0 vs 1)"


def test_a_difference_beyond_the_noise_still_decides():
    rows = [_q("int8_io", "int8_io", 0.9833, 0.0020, 3.0, 3.2, 10_800),  # measurably faster
            _q("int8", "int8", 0.9833, 0.0037, 1.9, 2.1, 10_854)]
    rec, _ = recommend(rows, BudgetSpec())
    assert rec["variant"] == "int8_io" and "tied_with" not in rec
    accurate = [_q("a", "int8", 0.99, 0.003, 2.0, 2.2, 10_000), _q("b", "int8", 0.90, 0.002, 2.0, 2.2, 9_000)]
    assert recommend(accurate, BudgetSpec())[0]["variant"] == "a"  # 9 points apart on 360 samples: real
