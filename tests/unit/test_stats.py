"""Latency statistics are a pure function of the raw samples."""

from dataclasses import replace

import numpy as np
import pytest

from workbench.profile.stats import (
    MIN_SPEEDUP,
    latency_stats,
    log_interval,
    median_ci,
    payoff,
    ratio_of_rounds,
    round_interval,
    spread_ratio,
)


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
    one_run = latency_stats([1.0, 2.0, 3.0])
    names = {"latency_ms_p50", "latency_ms_p90", "latency_ms_p95", "latency_ms_p99", "latency_ms_mean",
             "latency_ms_std", "latency_ms_min", "latency_runs", "latency_rounds", "latency_ms_p5"}
    assert set(one_run.metrics()) == names  # one run's order statistics are not logged as run-to-run noise
    rounds = replace(one_run, rounds=5)
    assert set(rounds.metrics()) == names | {"latency_ms_p50_ci_low", "latency_ms_p50_ci_high"}


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [-1.0]])
def test_bad_samples_rejected(bad):
    with pytest.raises(ValueError):
        latency_stats(bad)


def test_spread_ratio():
    assert spread_ratio([2.0, 2.2, 2.1]) == pytest.approx(1.1)


def test_ratio_of_rounds_is_the_median_with_a_t_interval_on_log_ratios():
    ref, sub = [7.2, 7.0, 7.4, 7.1, 9.0], [3.3, 3.2, 3.4, 3.3, 3.3]
    r = ratio_of_rounds(ref, sub)
    per_round = [a / b for a, b in zip(ref, sub, strict=True)]
    assert r.per_round == pytest.approx(per_round) and r.rounds == 5
    assert r.value == pytest.approx(np.median(per_round))  # 2.1818 (7.2/3.3), not the 9.0 outlier
    logs = np.log(per_round)
    half = 2.776 * logs.std(ddof=1) / np.sqrt(5)  # t(0.975, 4 dof)
    assert (r.ci_low, r.ci_high) == pytest.approx((np.exp(logs.mean() - half), np.exp(logs.mean() + half)))
    assert r.ci_low < r.value < r.ci_high
    assert set(r.metrics(suffix=".ov")) == {"speedup_vs_float.ov", "speedup_vs_float_ci_low.ov",
                                            "speedup_vs_float_ci_high.ov"}


def test_one_round_has_no_interval_and_logs_none():
    r = ratio_of_rounds([2.0], [1.0])
    assert r.value == 2.0 and r.ci_low != r.ci_low  # nan: no spread measured
    assert r.metrics() == {"speedup_vs_float": 2.0}
    assert all(v != v for v in log_interval([3.0]))


def test_round_interval_reflects_spread_between_runs_not_sample_count():
    tight, loose = round_interval([3.0, 3.01, 2.99, 3.0, 3.0]), round_interval([3.0, 3.6, 2.7, 3.3, 3.0])
    assert tight[1] - tight[0] < 0.05 < loose[1] - loose[0]
    assert loose[0] <= 3.0 <= loose[1]


@pytest.mark.parametrize("bad", [([1.0, 2.0], [1.0]), ([], []), ([1.0], [0.0])])
def test_ratio_of_rounds_refuses_unpaired_or_zero(bad):
    with pytest.raises(ValueError):
        ratio_of_rounds(*bad)


def test_payoff_is_decided_by_the_interval():
    assert payoff(1.2, 1.1, 1.3) == "pays off"
    assert payoff(1.2, 0.9, 1.5) == "no measurable difference"  # a big point value inside a wide interval
    assert payoff(0.8, 0.7, 0.9) == "slower"
    assert payoff(1.04, 1.01, 1.07) == "faster by less than 5%"
    assert payoff(MIN_SPEEDUP) == "pays off"  # no interval (one round, older runs): the point value stands
