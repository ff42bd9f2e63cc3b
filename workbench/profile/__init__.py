"""On-target profiling: runner.py (child process), request.py / result.py (the runner's JSON contract, typed),
stats.py (pure), targets.py (local / SSH)."""

from workbench.profile.request import ProfileRequest
from workbench.profile.result import ProfileResult, parse_result
from workbench.profile.stats import LatencyStats, latency_stats
from workbench.profile.targets import profile_model

__all__ = ["LatencyStats", "ProfileRequest", "ProfileResult", "latency_stats", "parse_result",
           "profile_model"]
