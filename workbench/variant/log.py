"""The last cell: the variant's summary, metrics, tags, artifacts (the list ``VariantFiles`` names) and
LoggedModel; ``run_variant`` runs all the cells in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.files import atomic_write
from workbench.model_files import sha256_file
from workbench.spec import ExperimentSpec, VariantSpec
from workbench.variant.artifacts import MODEL_FOLDER
from workbench.variant.build import compress_variant, convert_variant
from workbench.variant.context import VariantContext, prepare_variant
from workbench.variant.evaluate import evaluate_variant
from workbench.variant.profiling import profile_variant
from workbench.variant.records import Exported, Profiled, Quality

if TYPE_CHECKING:  # workbench.compress imports TensorFlow: only the type, at check time
    from workbench.compress import ChainResult


def log_variant(ctx: VariantContext, compressed: ChainResult, exported: Exported, quality: Quality,
                profiled: Profiled) -> dict[str, Any]:
    """Log metrics, the .tflite, profile JSON and a LoggedModel; end the run if this context created it."""
    prof = profiled.result
    metrics = {**quality.metrics, **prof.metrics(), "speedup_vs_float": float(profiled.speedup_vs_float)}
    if profiled.speedup is not None:  # the float figures measured in the same rounds, beside the variant's
        metrics.update(profiled.speedup.metrics())
        if profiled.float_result is not None:
            metrics["float_latency_ms_p50"] = profiled.float_result.latency.p50
    for name, extra in profiled.axes.items():
        metrics.update({f"{k}.{name}": v for k, v in extra.metrics().items()})
    for name, ratio in profiled.axis_speedups.items():
        metrics.update(ratio.metrics(suffix=f".{name}"))
        metrics[f"float_latency_ms_p50.{name}"] = profiled.axis_float_results[name].latency.p50
    given = ctx.experiment.baseline  # a user's model: say whether float32 is it as given or retrained from it
    origin = [f"float reference: {given.training_words()}"] if given.is_user_model else []
    notes = [*origin, *ctx.dataset.notes, *ctx.baseline.notes, *compressed.notes, *exported.notes, *quality.notes, *profiled.notes]
    out = ctx.files
    files = out.to_log(exported.others.values(), profiled.axes, profiled.axis_float_results,
                       profiled.float_result is not None)
    # each file hashed once: the .tflite's checksum is checked against the one the conversion computed (the
    # file evaluated and profiled above, byte for byte), the rest are logged as the artifacts' checksums
    manifest = {out.logged_as(path, folder): sha256_file(path) for path, folder in files if path != out.summary}
    model_sha256 = exported.check(manifest[out.logged_as(out.tflite, MODEL_FOLDER)])
    summary = {"variant": ctx.variant.name, "variant_id": ctx.variant_id, "technique": ctx.variant.technique,
               **metrics, "notes": notes, "io_types": quality.facts.get("io_types"), "run_id": ctx.run_id,
               "model_sha256": model_sha256}
    atomic_write(out.summary, json.dumps(summary, indent=1, default=str))
    if ctx.tracker is None:
        return summary
    from workbench import tracking as t

    tr = ctx.tracker
    axis_params = {f"{name}.{k}": v for name, extra in profiled.axes.items() for k, v in extra.params().items()}
    tr.log(ctx.run_id, params={**prof.params(), **axis_params, "profile.rounds": profiled.rounds}, metrics=metrics, tags={
        t.TAG_NOISY: str(prof.latency.noisy).lower(),
        t.TAG_PAID_OFF: profiled.paid_off,
        t.TAG_FALLBACK_OPS: ",".join(prof.ops.fallback) or "none",
        t.TAG_IO_TYPES: json.dumps(quality.facts.get("io_types")),
        t.TAG_OPS: ",".join(quality.facts.get("ops", [])),
        t.TAG_DEVICE: json.dumps(prof.device),
        t.TAG_RUNTIME: prof.request.runtime,
        **({t.TAG_PROFILE_AXES: json.dumps({**{n: "FINISHED" for n in profiled.axes},
                                                  **{n: f"FAILED: {why}" for n, why in profiled.failed_axes.items()}})}
           if profiled.axes or profiled.failed_axes else {}),
        **({t.TAG_NOTE: "\n".join(notes)} if notes else {}),
    })
    manifest[out.summary.name] = sha256_file(out.summary)
    # the checksums go in before the files: a run whose upload breaks off is never FINISHED anyway
    tr.log(ctx.run_id, tags={t.TAG_MODEL_SHA256: model_sha256, t.TAG_ARTIFACTS_SHA256: json.dumps(manifest)})
    for path, folder in files:
        tr.log_artifact(ctx.run_id, path, folder or None)
    facts = {**compressed.facts, **exported.facts}
    if facts:
        tr.log_text(ctx.run_id, json.dumps(facts, indent=1, default=str), "compress_info.json")
    model_tags = {t.TAG_VARIANT: ctx.variant_id, t.TAG_TECHNIQUE: ctx.variant.technique,
                  t.TAG_MODEL_SHA256: model_sha256}
    tr.log_model(ctx.experiment_id, ctx.run_id, ctx.variant.name, exported.path,
                 {"quantization": ctx.variant.quantization, "technique": ctx.variant.technique}, metrics, model_tags)
    tr.set_tags(ctx.run_id, {t.TAG_COMPLETE: "true"})  # last: everything above is in the store
    if ctx.owns_run:
        tr.end_run(ctx.run_id, t.RunStatus.FINISHED)
    return summary


def run_variant(experiment: str | Path | ExperimentSpec = "", variant: str | VariantSpec = "",
                **kwargs: Any) -> dict[str, Any]:
    """All six cells in-process (explorer, tests). Returns the summary."""
    ctx = prepare_variant(experiment, variant, **kwargs)
    try:
        compressed = compress_variant(ctx)
        exported = convert_variant(ctx, compressed)
        quality = evaluate_variant(ctx, exported, compressed)
        profiled = profile_variant(ctx, exported)
        return log_variant(ctx, compressed, exported, quality, profiled)
    except BaseException as exc:
        if ctx.tracker is not None and ctx.owns_run:
            from workbench.tracking import TAG_FAILURE, RunStatus

            ctx.tracker.set_tags(ctx.run_id, {TAG_FAILURE: f"{type(exc).__name__}: {exc}"[:500]})
            ctx.tracker.end_run(ctx.run_id, RunStatus.FAILED)
        raise
