"""The profiling cell: latency and memory on the target and on the experiment's extra profile axes, in
fresh processes, with the float baseline measured beside the variant in interleaved rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.catalog import runtime
from workbench.data import feed
from workbench.files import atomic_write, file_lock
from workbench.profile import ProfileResult, profile_model
from workbench.profile.paired import Paired, measure_rounds
from workbench.runtimes import profile_axes, runtime_notes, verdict
from workbench.variant.context import VariantContext
from workbench.variant.records import Exported, Profiled


def _measure(ctx: VariantContext, tflite: Path, target: Any) -> ProfileResult:
    """One profile with real test samples as inputs (call with the profiling lock held)."""
    return profile_model(tflite, target, feed(ctx.dataset.x_test[: max(target.batch * 8, 32)]))


def profile_variant(ctx: VariantContext, exported: Exported) -> Profiled:
    """Latency and memory on the target, in fresh processes; the raw results are saved as JSON.
    Also says plainly when the variant is not faster than float here, or when ops left the delegate.

    The variant and the float baseline are profiled in ``rounds`` interleaved rounds (A B, B A, ...: each a
    fresh process with 1/R of the timing budget) under one lock hold, so the speed-up is a ratio measured
    side by side with an interval over rounds, and the float figures quoted beside the variant are these.
    """
    target = ctx.experiment.target_for(ctx.variant)
    reference = ctx.planned.role == "baseline"
    axis_targets = ctx.experiment.profile_targets(ctx.variant)
    files = exported.files
    rounds = ctx.experiment.rounds

    def measure(path: Path, t: Any) -> ProfileResult:
        return _measure(ctx, path, t)

    # one lock hold: parallel sweep workers never profile at the same time (shared cores and caches)
    with file_lock(ctx.work_dir / "locks" / "profile.lock"):
        main = measure_rounds(measure, files.for_runtime(target.runtime),
                              None if reference else ctx.float_file(target.runtime), target, rounds)
        # the experiment's extra `profiles` (runtime, threads, XNNPACK, kernels, API, batch, ...) on this variant
        measured = profile_axes(measure, files, target.runtime, axis_targets, quality_failures(exported, axis_targets),
                                None if reference else ctx.float_file, rounds)
    result, axes = main.subject, measured.results
    out = ctx.files
    atomic_write(out.profile, result.to_json())
    for name, axis in axes.items():
        atomic_write(out.axis_profile(name), axis.to_json())
    for name, axis in measured.float_results.items():
        atomic_write(out.axis_float_profile(name), axis.to_json())
    notes = []
    lat = result.latency
    if lat.noisy:
        notes.append(f"latency spread is high (p90/p50 = {lat.p90 / lat.p50:.2f}): the machine was busy; "
                     "treat the latency with care")
    fallback = result.ops.fallback
    if fallback and target.xnnpack and target.kernels == "optimized":
        notes.append(f"{len(fallback)} op(s) ran on LiteRT's builtin kernels, not the XNNPACK delegate: "
                     f"{', '.join(sorted(set(fallback)))}")
    notes += runtime_notes(target, main.speedup, axis_targets, measured, [result, *axes.values()],
                           ctx.variant.quantization)
    if main.reference is None or main.speedup is None:
        return Profiled(result, axes, None, "reference", 1.0, tuple(notes), measured.failed, rounds=rounds)
    atomic_write(out.float_profile, main.reference.to_json())
    paid_off, word = verdict(main.speedup)
    if not paid_off:
        lead = "not faster than" if word in ("slower", "no measurable difference") else "faster by less than 5% than"
        notes.append(f"{lead} float32 on this target ({word}): {side_by_side(main)}")
    return Profiled(result, axes, main.reference, str(paid_off).lower(), main.speedup.value, tuple(notes),
                    measured.failed, measured.float_results, main.speedup, measured.speedups, rounds)


def side_by_side(paired: Paired) -> str:
    """"p50 3.30 ms vs float32 7.20 ms measured side by side (x2.18, 95% interval 2.05-2.31 over 5 rounds)"."""
    sub, ref, s = paired.subject.latency, paired.reference, paired.speedup
    if ref is None or s is None:
        return f"p50 {sub.p50:.4g} ms"
    interval = (f", 95% interval {s.ci_low:.2f}-{s.ci_high:.2f} over {s.rounds} rounds" if s.ci_low == s.ci_low
                else f", {s.rounds} round")
    return (f"p50 {sub.p50:.4g} ms vs float32 {ref.latency.p50:.4g} ms measured side by side "
            f"(x{s.value:.2f}{interval})")


def quality_failures(exported: Exported, axes: dict[str, Any]) -> dict[str, str]:
    """Runtimes that cannot run the variant because it has no file for them (its conversion failed)."""
    return {t.runtime: f"no {fmt}: {exported.other_errors[fmt]}" for t in axes.values()
            if (fmt := runtime(t.runtime).file_format) in exported.other_errors}

