"""The evaluation cell: accuracy, agreement, sizes, ratios and sparsity, all computed from the exported file
on LiteRT, then on every other runtime the experiment's targets use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.analysis.fidelity import fidelity
from workbench.analysis.scores import task_metrics, with_deltas
from workbench.analysis.significance import accuracy_metrics
from workbench.baseline import reference_outputs
from workbench.catalog import display_name
from workbench.data import import_function
from workbench.errors import ModelFileError
from workbench.runtimes import Score, axis_metrics, runtime_quality, runtimes_of, top1_metrics
from workbench.tflite_model import (
    TfliteModel,
    accuracy,
    gzip_size,
    max_unique_per_channel,
    max_unique_values,
    predicted_classes,
    sparsity,
)
from workbench.variant.context import VariantContext, calibration_samples
from workbench.variant.records import Exported, Quality

if TYPE_CHECKING:  # workbench.compress imports TensorFlow: only the type, at check time
    from workbench.compress import ChainResult


def evaluate_variant(ctx: VariantContext, exported: Exported, compressed: ChainResult) -> Quality:
    """The task's metrics (a classifier's accuracy and agreement), fidelity to the float model, sizes, ratios and
    sparsity, all computed from the .tflite on LiteRT (then on every other runtime the targets use)."""
    content = exported.path.read_bytes()  # the bytes converted: log_variant checks exported.sha256 once, at the end
    m = TfliteModel(content, source=str(exported.path))
    outputs = m.predict_outputs(ctx.dataset.x_test)
    reference = reference_outputs(ctx.baseline, ctx.dataset.x_test)
    score = _scorer(ctx, reference)
    kernels = m.kernel_tensors()
    size, size_gz = len(content), gzip_size(content)
    metrics = {
        **_on_labels(score, outputs),
        "size_bytes": float(size),
        "size_gzip_bytes": float(size_gz),
        "compression_ratio": ctx.baseline.size_bytes / size,
        "compression_ratio_gzip": ctx.baseline.size_gzip_bytes / size_gz,
        "sparsity": sparsity(kernels),
        "max_unique_values": float(max_unique_values(kernels)),
        "max_unique_per_channel": float(max_unique_per_channel(kernels)),
        "params_before": float(compressed.params_before),
        "params_after": float(compressed.params_after),
        # how far its outputs are from the float model's on the same samples, labels or not
        **fidelity(reference, outputs),
    }
    facts = {"io_types": {"input": m.inputs[0].dtype, "output": m.outputs[0].dtype}, "ops": sorted(set(m.op_names()))}
    notes: tuple[str, ...] = ()
    if ctx.experiment.task.classification:
        # how sure the accuracy is (Wilson over the test split) and whether its change against float is real
        # (McNemar on per-sample correctness against the float model's top-1, same samples)
        logits = next(iter(outputs.values()))
        metrics.update(accuracy_metrics(predicted_classes(logits), ctx.baseline.top1, ctx.dataset.y_test))
    if compressed.params_ratio is not None:
        metrics["params_ratio"] = compressed.params_ratio
    plain = compressed.companions.get("label_only")
    if plain is not None:
        extra, note = _label_only_comparison(ctx, plain, metrics["accuracy"])
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
    rq = runtime_quality(exported.files, others, ctx.dataset.x_test, _scorer(ctx, reference), reference)
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


def _scorer(ctx: VariantContext, reference: dict[str, np.ndarray]) -> Score:
    """outputs by name -> the task's metrics against the test labels with their change against the float
    model's (scored on ``reference``, its outputs); a classifier's accuracy as always (``top1_metrics``: its
    interval, its delta against the cached baseline's accuracy, agreement with its top-1)."""
    task, labels = ctx.experiment.task, ctx.dataset.y_test
    functions = {ref: import_function(ref, f"task metric '{ref}'", ctx.root, only_root=True)
                 for ref in task.user_functions()}
    float_scores = task_metrics(task, reference, labels, functions)

    def score(outputs: Mapping[str, np.ndarray]) -> dict[str, float]:
        out = with_deltas(task, task_metrics(task, outputs, labels, functions), float_scores)
        if task.classification:
            out.update(top1_metrics(next(iter(outputs.values())), labels, ctx.baseline.top1, ctx.baseline.accuracy))
        return out

    return score


def _on_labels(score: Score, outputs: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``score(outputs)`` on the main runtime, where a missing output is the model's problem: ModelFileError."""
    try:
        return score(outputs)
    except ValueError as exc:
        raise ModelFileError(str(exc)) from None


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
