"""Magnitude pruning and M-by-N structured sparsity (tfmot), wrappers stripped before export."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.compress._layers import rewrite, steps_per_epoch
from workbench.models import fit
from workbench.spec.steps import PruneSpec, StructuredPruneSpec

PRUNABLE = ("Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D", "Conv1D")


def schedule(spec: PruneSpec, total_steps: int) -> Any:
    """The tfmot schedule. With a polynomial schedule the final sparsity is applied at ``end_step`` (a
    pruning step by construction), leaving ~30% of fine-tuning with a fixed mask to recover accuracy."""
    freq = min(spec.frequency, max(1, total_steps // 10))
    if spec.schedule == "constant":
        return tfmot.sparsity.keras.ConstantSparsity(spec.sparsity, begin_step=spec.begin_step, frequency=freq)
    end = spec.end_step
    if end is None:
        span = max(freq, int(0.7 * max(1, total_steps - spec.begin_step)))
        end = spec.begin_step + freq * max(1, span // freq)
    return tfmot.sparsity.keras.PolynomialDecay(spec.initial_sparsity, spec.sparsity, spec.begin_step, end,
                                                frequency=freq)


def _train_pruned(model: Any, step: Any, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    tr = ctx.experiment.baseline.training
    history = fit(model, ctx.dataset, step.epochs, tr.batch_size, step.learning_rate,
                  callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(model), history


def apply_prune(model: Any, step: PruneSpec, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    if step.epochs == 0:
        raise ValueError("prune needs epochs >= 1: the mask is applied during fine-tuning")
    total = step.epochs * steps_per_epoch(len(ctx.dataset.x_train), ctx.experiment.baseline.training.batch_size)
    sched = schedule(step, total)
    pruned, names = rewrite(model, step.layers, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=sched), "prune", PRUNABLE)
    ctx.info["pruned_layers"] = names
    return _train_pruned(pruned, step, ctx)


def apply_prune_structured(model: Any, step: StructuredPruneSpec, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    # m_by_n supports Conv2D and Dense kernels (not depthwise)
    sched = tfmot.sparsity.keras.ConstantSparsity(step.m / step.n, begin_step=0, frequency=1)
    pruned, names = rewrite(model, step.layers, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=sched, sparsity_m_by_n=(step.m, step.n)), "prune_structured", ("Conv2D", "Dense"))
    ctx.info["pruned_layers"] = names
    if step.epochs == 0:
        raise ValueError("prune_structured needs epochs >= 1: the mask is applied during fine-tuning")
    return _train_pruned(pruned, step, ctx)
