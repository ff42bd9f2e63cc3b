"""Accuracy noise on known counts: Wilson intervals and the exact McNemar test (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.significance import accuracy_metrics, mcnemar, wilson


def test_wilson_on_known_counts():
    # reference values: the closed form (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.96
    assert wilson(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)  # one test sample is not "100%"
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(354, 360) == pytest.approx((0.9641, 0.9924), abs=1e-4)
    with pytest.raises(ValueError):
        wilson(3, 0)


def test_mcnemar_exact_on_known_counts():
    assert mcnemar(0, 0).p_value == 1.0 and not mcnemar(0, 0).real
    assert mcnemar(1, 0).p_value == pytest.approx(1.0)  # one sample lost: no measurable difference
    assert mcnemar(6, 0).p_value == pytest.approx(2 / 64)  # 2 * 0.5^6 = 0.03125: real
    assert mcnemar(6, 0).real
    assert mcnemar(10, 5).p_value == pytest.approx(0.30175781, abs=1e-6)  # scipy.stats.binomtest(5, 15)


def test_accuracy_metrics_pair_variant_and_float_on_the_same_samples():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    float_top1 = labels.copy()
    variant = labels.copy()
    variant[[2, 5]] = 0  # two samples lost, none gained
    m = accuracy_metrics(variant, float_top1, labels)
    assert m["test_samples"] == 10 and m["accuracy_lost"] == 2 and m["accuracy_gained"] == 0
    assert m["accuracy_delta_p"] == pytest.approx(0.5)
    assert m["accuracy_ci_low"] < 0.8 < m["accuracy_ci_high"]
