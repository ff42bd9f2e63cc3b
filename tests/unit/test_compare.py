"""Regression rules of the nightly comparison (pure)."""

from workbench.run.compare import regressions_between
from workbench.spec import RegressionSpec

RULES = RegressionSpec(max_accuracy_drop_pts=0.5, min_latency_rise=0.05, max_size_change=0.0)
BASE = {"accuracy": 0.98, "latency_ms_p50": 1.0, "latency_ms_p50_ci_low": 0.99, "latency_ms_p50_ci_high": 1.01,
        "size_bytes": 1000.0}


def test_identical_metrics_have_no_regression():
    assert regressions_between(dict(BASE), dict(BASE), RULES) == []


def test_accuracy_drop_beyond_threshold():
    found = regressions_between({**BASE, "accuracy": 0.97}, BASE, RULES)
    assert len(found) == 1 and "accuracy down 1.00 points" in found[0]
    assert regressions_between({**BASE, "accuracy": 0.976}, BASE, RULES) == []


def test_latency_rise_must_beat_noise_and_floor():
    assert regressions_between({**BASE, "latency_ms_p50": 1.04}, BASE, RULES) == []  # under the 5% floor
    noisy = {**BASE, "latency_ms_p50": 1.2, "latency_ms_p50_ci_low": 0.8, "latency_ms_p50_ci_high": 1.6}
    assert regressions_between(noisy, BASE, RULES) == []  # within the profiles' own noise
    found = regressions_between({**BASE, "latency_ms_p50": 1.2, "latency_ms_p50_ci_low": 1.19,
                                 "latency_ms_p50_ci_high": 1.21}, BASE, RULES)
    assert len(found) == 1 and "latency p50 up 20.0%" in found[0]


def test_size_change_reported():
    found = regressions_between({**BASE, "size_bytes": 1010.0}, BASE, RULES)
    assert found == ["size changed +1.00% (1000 -> 1010 bytes)"]
