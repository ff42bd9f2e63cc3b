"""Magnitude pruning and M-by-N structured sparsity (tfmot), wrappers stripped before returning."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.compress._layers import rewrite, unreached
from workbench.compress.result import StepResult
from workbench.data import Dataset
from workbench.models import fit
from workbench.spec import TrainingSpec
from workbench.spec.fit import steps_per_epoch
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


def _train_pruned(pruned: Any, names: list[str], step: PruneSpec | StructuredPruneSpec, data: Dataset,
                  training: TrainingSpec, notes: tuple[str, ...] = ()) -> StepResult:
    history = fit(pruned, data, step.epochs, training.batch_size, step.learning_rate,
                  callbacks=[tfmot.sparsity.keras.UpdatePruningStep()], loss=training.loss)
    return StepResult(tfmot.sparsity.keras.strip_pruning(pruned), history, {"pruned_layers": names}, notes)


def apply_prune(model: Any, step: PruneSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Magnitude-prune the selected layers to ``step.sparsity`` while fine-tuning.

    Args:
        model: the Keras model to prune; not modified.
        step: sparsity, schedule, epochs, learning rate and layer selection.
        data: fine-tuning and validation arrays.
        training: batch size (sets the schedule's step count).
    Returns:
        The stripped pruned model; facts ``pruned_layers`` (names).
    Raises:
        SpecError: the layer selection matches no prunable layer.
    """
    sched = schedule(step, step.epochs * steps_per_epoch(len(data.x_train), training.batch_size))
    pruned, names = rewrite(model, step.layers, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=sched), "prune", PRUNABLE)
    return _train_pruned(pruned, names, step, data, training, unreached(model, step.layers, "prune", PRUNABLE))


def apply_prune_structured(model: Any, step: StructuredPruneSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Impose ``m`` zeros in every ``n`` consecutive weights along input channels while fine-tuning.

    Args:
        model: the Keras model to prune (Conv2D and Dense kernels); not modified.
        step: m, n, epochs, learning rate and layer selection.
        data: fine-tuning and validation arrays.
        training: batch size.
    Returns:
        The stripped pruned model; facts ``pruned_layers`` (names).
    Raises:
        SpecError: the layer selection matches no Conv2D or Dense layer.
    """
    # tfmot's m_by_n supports Conv2D and Dense kernels (not depthwise)
    sched = tfmot.sparsity.keras.ConstantSparsity(step.m / step.n, begin_step=0, frequency=1)
    pruned, names = rewrite(model, step.layers, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=sched, sparsity_m_by_n=(step.m, step.n)), "prune_structured", ("Conv2D", "Dense"))
    return _train_pruned(pruned, names, step, data, training,
                         unreached(model, step.layers, "prune_structured", ("Conv2D", "Dense")))
