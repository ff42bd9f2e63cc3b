"""The evaluation cell: accuracy, agreement, sizes, ratios and sparsity, all computed from the exported file
on LiteRT, then on every other runtime the experiment's targets use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.analysis.fidelity import fidelity
from workbench.analysis.significance import accuracy_metrics
from workbench.baseline import reference_outputs
from workbench.catalog import display_name
from workbench.errors import ModelFileError
from workbench.runtimes import axis_metrics, runtime_quality, runtimes_of
from workbench.tflite_model import (
    TfliteModel,
    accuracy,
    agreement,
    gzip_size,
    max_unique_per_channel,
    max_unique_values,
    sparsity,
)
from workbench.variant.context import VariantContext, calibration_samples
from workbench.variant.records import Exported, Quality

if TYPE_CHECKING:  # workbench.compress imports TensorFlow: only the type, at check time
    from workbench.compress import ChainResult


def evaluate_variant(ctx: VariantContext, exported: Exported, compressed: ChainResult) -> Quality:
    """Accuracy, agreement, sizes, ratios and sparsity, all computed from the .tflite on LiteRT."""
    content = exported.path.read_bytes()  # the bytes converted: log_variant checks exported.sha256 once, at the end
    m = TfliteModel(content, source=str(exported.path))
    outputs = m.predict_outputs(ctx.dataset.x_test)
    logits = next(iter(outputs.values()))  # the first output: what accuracy is computed on
    reference = reference_outputs(ctx.baseline, ctx.dataset.x_test)
    acc = accuracy(logits, ctx.dataset.y_test)
    kernels = m.kernel_tensors()
    size, size_gz = len(content), gzip_size(content)
    metrics = {
        "accuracy": acc,
        "accuracy_delta": (acc - ctx.baseline.accuracy) * 100.0,
        "agreement": agreement(logits, ctx.baseline.top1),
        "size_bytes": float(size),
        "size_gzip_bytes": float(size_gz),
        "compression_ratio": ctx.baseline.size_bytes / size,
        "compression_ratio_gzip": ctx.baseline.size_gzip_bytes / size_gz,
        "sparsity": sparsity(kernels),
        "max_unique_values": float(max_unique_values(kernels)),
        "max_unique_per_channel": float(max_unique_per_channel(kernels)),
        "params_before": float(compressed.params_before),
        "params_after": float(compressed.params_after),
        # how sure the accuracy is (Wilson over the test split) and whether its change against float is real
        # (McNemar on per-sample correctness against the float model's top-1, same samples)
        **accuracy_metrics(np.argmax(logits, axis=1), ctx.baseline.top1, ctx.dataset.y_test),
        # how far its outputs are from the float model's on the same samples, labels or not
        **fidelity(reference, outputs),
    }
    facts = {"io_types": {"input": m.inputs[0].dtype, "output": m.outputs[0].dtype}, "ops": sorted(set(m.op_names()))}
    notes: tuple[str, ...] = ()
    if compressed.params_ratio is not None:
        metrics["params_ratio"] = compressed.params_ratio
    plain = compressed.companions.get("label_only")
    if plain is not None:
        extra, note = _label_only_comparison(ctx, plain, acc)
        metrics.update(extra)
        notes = (note,)
    failed, runtime_notes = _evaluate_runtimes(ctx, exported, metrics, reference)
    notes = (*notes, *(f"{display_name(rt)} cannot run this variant: {why}" for rt, why in failed.items()),
             *runtime_notes)
    return Quality(metrics, facts, notes, failed)


def _evaluate_runtimes(ctx: VariantContext, exported: Exported, metrics: dict[str, float],
                       reference: dict[str, np.ndarray]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Accuracy on every other runtime the targets use (``accuracy.<axis>``, ...); on a main target that is
    not LiteRT, the headline metrics become that runtime's (sizes and ratios of the file it runs, against
    the float baseline's file for the same runtime). Returns the runtimes that cannot run the variant, and
    notes (a runtime whose outputs cannot be paired with the float reference's has no fidelity)."""
    main, axes = ctx.experiment.target_for(ctx.variant), ctx.experiment.profile_targets(ctx.variant)
    others = [rt for rt in runtimes_of(main, axes) if rt != "litert"]
    if not others:
        return {}, ()
    rq = runtime_quality(exported.files, others, ctx.dataset.x_test, ctx.dataset.y_test, ctx.baseline.top1,
                         ctx.baseline.accuracy, reference)
    if main.runtime != "litert":
        if main.runtime in rq.failed:
            raise ModelFileError(rq.failed[main.runtime])
        ours = rq.metrics[main.runtime]
        base = ctx.float_file(main.runtime).read_bytes()
        metrics.update({**ours, "compression_ratio": len(base) / ours["size_bytes"],
                        "compression_ratio_gzip": gzip_size(base) / ours["size_gzip_bytes"]})
    metrics.update(axis_metrics(rq, main.runtime, axes))
    for fmt, path in exported.others.items():  # onnx_size_bytes, ...
        metrics[f"{fmt.lstrip('.')}_size_bytes"] = float(path.stat().st_size)
    return rq.failed, rq.notes


def _label_only_comparison(ctx: VariantContext, plain: Any, acc: float) -> tuple[dict[str, float], str]:
    """The student trained from labels alone, exported and run exactly like the distilled one."""
    from workbench.convert import convert

    content = convert(plain, ctx.variant.quantization, calibration_samples(ctx))
    plain_acc = accuracy(TfliteModel(content).predict(ctx.dataset.x_test), ctx.dataset.y_test)
    gain = (acc - plain_acc) * 100
    verdict = "helped" if gain > 0 else ("made no difference" if gain == 0 else "hurt")
    note = (f"distillation {verdict}: {acc:.4f} distilled vs {plain_acc:.4f} label-only student "
            f"({gain:+.2f} points; same seed, same epochs, same export)")
    return {"label_only_accuracy": plain_acc, "distill_gain_pts": gain}, note
