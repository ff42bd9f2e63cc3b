"""Latency statistics from raw samples, and the between-round noise of repeated measurements: pure functions,
no runtime, no TensorFlow.

Two kinds of interval live here. ``median_ci`` is the order-statistic interval of one run's samples: it
narrows with the sample count and says nothing about the next run (on a microsecond model it collapses to
the timer step). ``round_interval`` and ``ratio_of_rounds`` come from repeated rounds (fresh processes, one
window of time): they are the noise the product reports and decides on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: p90/p50 above this ratio means the spread is not the model's: the machine was busy
NOISY_P90_OVER_P50 = 1.25
#: a variant "pays off" in speed when the lower end of its speed-up interval is at least this
MIN_SPEEDUP = 1.05
#: two-sided 95% Student t quantiles by degrees of freedom (1..30); above 30 the normal 1.96
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class LatencyStats:
    runs: int
    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    std: float
    min: float
    max: float
    p5: float
    p50_ci_low: float
    p50_ci_high: float
    noisy: bool
    rounds: int = 1  # fresh processes the samples come from; the p50 interval is over them when > 1

    def metrics(self) -> dict[str, float]:
        """The design's metric names (``latency_ms_*``, ``latency_runs``, ``latency_rounds``); the p50 interval
        only when it comes from two or more rounds (one run's order statistics are not run-to-run noise)."""
        out = {f"latency_ms_{k}": getattr(self, k) for k in ("p50", "p90", "p95", "p99", "mean", "std", "min")}
        out["latency_runs"] = float(self.runs)
        out["latency_rounds"] = float(self.rounds)
        if self.rounds > 1:
            out["latency_ms_p50_ci_low"], out["latency_ms_p50_ci_high"] = self.p50_ci_low, self.p50_ci_high
        out["latency_ms_p5"] = self.p5
        return out

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def median_ci(sorted_ms: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval for the median from order statistics (normal approx. to the
    binomial): ranks n/2 -/+ z*sqrt(n)/2."""
    n = len(sorted_ms)
    if n < 3:
        return float(sorted_ms[0]), float(sorted_ms[-1])
    z = {0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758}.get(confidence, 1.96)
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)))
    hi = min(n - 1, int(math.ceil(n / 2 + half)))
    return float(sorted_ms[lo]), float(sorted_ms[hi])


def latency_stats(samples_ms: list[float] | np.ndarray) -> LatencyStats:
    """Summarise per-invoke times (milliseconds). Raises ValueError on an empty list."""
    a = np.sort(np.asarray(samples_ms, dtype=np.float64))
    if a.size == 0:
        raise ValueError("no latency samples")
    if not np.all(np.isfinite(a)) or a[0] < 0:
        raise ValueError("latency samples must be finite and non-negative")
    p5, p50, p90, p95, p99 = (float(v) for v in np.percentile(a, [5, 50, 90, 95, 99]))
    lo, hi = median_ci(a)
    return LatencyStats(
        runs=int(a.size), p50=p50, p90=p90, p95=p95, p99=p99, mean=float(a.mean()),
        std=float(a.std(ddof=1)) if a.size > 1 else 0.0, min=float(a[0]), max=float(a[-1]), p5=p5,
        p50_ci_low=lo, p50_ci_high=hi, noisy=bool(p50 > 0 and p90 / p50 > NOISY_P90_OVER_P50),
    )


def spread_ratio(p50s: list[float]) -> float:
    """max/min of repeated p50 figures: 1.0 means identical."""
    return max(p50s) / min(p50s) if p50s and min(p50s) > 0 else float("inf")


def t975(dof: int) -> float:
    """The two-sided 95% Student t quantile for ``dof`` degrees of freedom (>= 1)."""
    return _T975[dof - 1] if dof <= len(_T975) else 1.96


def log_interval(values: list[float] | tuple[float, ...]) -> tuple[float, float]:
    """95% t interval of the geometric mean of positive ``values`` (t on their logarithms), as (low, high).

    Latencies and ratios of latencies vary multiplicatively, so the interval is taken on logs. One value
    has no spread to measure: (nan, nan)."""
    logs = np.log(np.asarray(values, dtype=np.float64))
    if logs.size < 2:
        return float("nan"), float("nan")
    half = t975(logs.size - 1) * float(logs.std(ddof=1)) / math.sqrt(logs.size)
    centre = float(logs.mean())
    return math.exp(centre - half), math.exp(centre + half)


def round_interval(p50s_ms: list[float] | tuple[float, ...]) -> tuple[float, float]:
    """The p50's run-to-run interval from the p50s of repeated rounds; it always contains their median."""
    lo, hi = log_interval(p50s_ms)
    mid = float(np.median(p50s_ms))
    return (min(lo, mid), max(hi, mid)) if lo == lo else (lo, hi)


@dataclass(frozen=True)
class Ratio:
    """reference p50 / subject p50 measured side by side: per round, their median, and the interval."""

    value: float  # median over rounds
    ci_low: float  # nan with one round
    ci_high: float
    per_round: tuple[float, ...]

    @property
    def rounds(self) -> int:
        return len(self.per_round)

    def metrics(self, name: str = "speedup_vs_float", suffix: str = "") -> dict[str, float]:
        """``<name>``, ``<name>_ci_low``/``_ci_high`` (when there is an interval), each with ``suffix``."""
        out = {f"{name}{suffix}": self.value}
        if self.ci_low == self.ci_low:
            out.update({f"{name}_ci_low{suffix}": self.ci_low, f"{name}_ci_high{suffix}": self.ci_high})
        return out


def ratio_of_rounds(reference_p50s_ms: list[float], subject_p50s_ms: list[float]) -> Ratio:
    """Speed-up of subject over reference from paired rounds (round i of each measured back to back): the
    median of the per-round ratios, with the 95% t interval of their geometric mean (t on log-ratios), widened
    to contain the median. Raises ValueError on unpaired or non-positive input."""
    if len(reference_p50s_ms) != len(subject_p50s_ms) or not subject_p50s_ms:
        raise ValueError(f"paired rounds needed: {len(reference_p50s_ms)} reference, {len(subject_p50s_ms)} subject")
    if min(*reference_p50s_ms, *subject_p50s_ms) <= 0:
        raise ValueError("p50s must be positive")
    ratios = tuple(r / s for r, s in zip(reference_p50s_ms, subject_p50s_ms, strict=True))
    lo, hi = round_interval(ratios)
    return Ratio(float(np.median(ratios)), lo, hi, ratios)


def payoff(speedup: float, ci_low: float | None = None, ci_high: float | None = None) -> str:
    """The one definition of "did it pay off", from a side-by-side speed-up and its interval:
    ``"pays off"`` (the interval's low end >= MIN_SPEEDUP), ``"slower"`` (its high end < 1),
    ``"no measurable difference"`` (the interval holds 1), else ``"faster by less than 5%"``. Without an
    interval (one round, or a result logged before rounds existed) the point value stands for both ends."""
    lo = speedup if ci_low is None or ci_low != ci_low else ci_low
    hi = speedup if ci_high is None or ci_high != ci_high else ci_high
    if lo >= MIN_SPEEDUP:
        return "pays off"
    if hi < 1.0:
        return "slower"
    if lo <= 1.0 <= hi:
        return "no measurable difference"
    return "faster by less than 5%"
