"""Latency statistics are a pure function of the raw samples."""

import numpy as np
import pytest

from workbench.profile.stats import latency_stats, median_ci, spread_ratio


def test_percentiles_of_known_samples():
    s = latency_stats(list(range(1, 101)))  # 1..100 ms
    assert s.runs == 100
    assert s.min == 1 and s.max == 100
    assert s.p50 == pytest.approx(50.5)
    assert s.p90 == pytest.approx(90.1)
    assert s.p99 == pytest.approx(99.01)
    assert s.mean == pytest.approx(50.5)
    assert s.std == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_order_of_samples_does_not_matter():
    a = np.random.default_rng(1).exponential(2.0, 500)
    assert latency_stats(a) == latency_stats(a[::-1])


def test_median_ci_brackets_the_median_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small = np.sort(rng.normal(10, 1, 30))
    large = np.sort(rng.normal(10, 1, 3000))
    lo_s, hi_s = median_ci(small)
    lo_l, hi_l = median_ci(large)
    assert lo_s <= np.median(small) <= hi_s
    assert lo_l <= np.median(large) <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s)


def test_noisy_flag_follows_spread():
    assert not latency_stats([1.0] * 95 + [1.1] * 5).noisy
    assert latency_stats([1.0] * 50 + [3.0] * 50).noisy


def test_metric_names_match_design():
    names = set(latency_stats([1.0, 2.0, 3.0]).metrics())
    assert names == {"latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99", "latency_ms_mean",
                     "latency_ms_std", "latency_ms_min", "latency_runs", "latency_ms_p50_ci_low",
                     "latency_ms_p50_ci_high", "latency_ms_p5"}


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [-1.0]])
def test_bad_samples_rejected(bad):
    with pytest.raises(ValueError):
        latency_stats(bad)


def test_spread_ratio():
    assert spread_ratio([2.0, 2.2, 2.1]) == pytest.approx(1.1)
