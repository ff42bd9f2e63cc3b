"""Latency statistics from raw samples: pure functions, no runtime, no TensorFlow."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: p90/p50 above this ratio means the spread is not the model's: the machine was busy
NOISY_P90_OVER_P50 = 1.25


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

    def metrics(self) -> dict[str, float]:
        """The design's metric names (``latency_ms_*``, ``latency_runs``)."""
        out = {f"latency_ms_{k}": getattr(self, k) for k in ("p50", "p90", "p95", "p99", "mean", "std", "min")}
        out["latency_runs"] = float(self.runs)
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
