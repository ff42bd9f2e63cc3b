"""On-target profiling: runner.py (child process), stats.py (pure), targets.py (local / SSH)."""

from workbench.profile.stats import LatencyStats, latency_stats
from workbench.profile.targets import ProfileResult, profile

__all__ = ["LatencyStats", "ProfileResult", "latency_stats", "profile"]
