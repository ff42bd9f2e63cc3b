"""Ratios measured side by side: a subject and its reference profiled in interleaved rounds.

Round i profiles both files in fresh processes back to back (A B, then B A in the next round, so neither
always runs first), each with 1/R of the target's timing budget. The speed-up is the median over rounds of
reference p50 / subject p50, with an interval over rounds (``stats.ratio_of_rounds``); each file's p50
interval is the spread of its per-round p50s (``stats.round_interval``). Both figures a report quotes next
to each other come from the same window of time. No runtime and no TensorFlow here: ``measure`` does that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.profile.result import ProfileResult
from workbench.profile.stats import Ratio, latency_stats, ratio_of_rounds, round_interval
from workbench.spec import TargetSpec

Measure = Callable[[Path, TargetSpec], ProfileResult]


@dataclass(frozen=True)
class Paired:
    """A subject measured in rounds, with its reference (float) from the same rounds when there is one."""

    subject: ProfileResult  # merged over rounds: every sample, p50 interval over rounds
    reference: ProfileResult | None
    speedup: Ratio | None  # reference p50 / subject p50, per round

    @property
    def rounds(self) -> int:
        return self.subject.latency.rounds


def round_target(target: TargetSpec, rounds: int, load: bool) -> TargetSpec:
    """``target`` with its timing budget split over ``rounds`` (runs and seconds, minimum and maximum), so R
    rounds time about as long as one profile did; the load scenario only where ``load`` is True."""
    update: dict[str, object] = {
        "min_runs": max(1, math.ceil(target.min_runs / rounds)), "max_runs": max(1, math.ceil(target.max_runs / rounds)),
        "min_seconds": target.min_seconds / rounds, "max_seconds": target.max_seconds / rounds}
    if not load:
        update.update(clients=1, load_seconds=0.0)
    return target.model_copy(update=update)


def merge_rounds(results: list[ProfileResult], target: TargetSpec) -> ProfileResult:
    """One result from R rounds of the same file: every sample pooled for the percentiles, the p50 interval
    from the spread of the per-round p50s, init and throughput the median round's, peak memory the highest,
    the load scenario from the round that ran it; the request says the whole budget (``target``)."""
    if len(results) == 1:
        return results[0]
    p50s = [r.latency.p50 for r in results]
    samples = tuple(s for r in results for s in r.samples_ms)
    lo, hi = round_interval(p50s)
    stats = replace(latency_stats(list(samples)), p50_ci_low=lo, p50_ci_high=hi, rounds=len(results))
    first = results[0]
    middle = sorted(results, key=lambda r: r.latency.p50)[len(results) // 2]
    request = replace(first.request, min_runs=target.min_runs, max_runs=target.max_runs,
                      min_seconds=float(target.min_seconds), max_seconds=float(target.max_seconds),
                      clients=target.clients, load_seconds=float(target.load_seconds))
    load = next((r.load for r in results if r.load is not None), None)
    peak = max(results, key=lambda r: r.memory.peak_mb - r.memory.baseline_mb)
    per_round = [{"p50_ms": r.latency.p50, "runs": r.latency.runs, "init_ms": r.init_ms,
                  "loadavg_1m": r.device.get("loadavg_1m")} for r in results]
    raw = {**first.raw, "samples_ms": list(samples), "rounds": per_round}
    return replace(first, request=request, samples_ms=samples, latency=stats, init_ms=middle.init_ms,
                   loop_seconds=sum(r.loop_seconds for r in results), throughput_ips=middle.throughput_ips,
                   memory=peak.memory, load=load, raw=raw)


def measure_rounds(measure: Measure, subject: Path, reference: Path | None, target: TargetSpec,
                   rounds: int) -> Paired:
    """Profile ``subject`` (and ``reference``, interleaved: A B, B A, ...) in ``rounds`` rounds.

    Raises whatever ``measure`` raises (ProfileError, ModelFileError): a failed round fails the pair."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    subs: list[ProfileResult] = []
    refs: list[ProfileResult] = []
    for i in range(rounds):
        sub_target = round_target(target, rounds, load=i == rounds - 1)
        order = [(subject, sub_target, subs)]
        if reference is not None:
            ref_entry = (reference, round_target(target, rounds, load=False), refs)
            order = [ref_entry, *order] if i % 2 == 0 else [*order, ref_entry]
        for path, t, into in order:
            into.append(measure(path, t))
    merged = merge_rounds(subs, target)
    if reference is None:
        return Paired(merged, None, None)
    ratio = ratio_of_rounds([r.latency.p50 for r in refs], [s.latency.p50 for s in subs])
    return Paired(merged, merge_rounds(refs, target.model_copy(update={"clients": 1, "load_seconds": 0.0})), ratio)
