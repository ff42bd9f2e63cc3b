"""Run a variant's steps, in order, through the technique table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.compress.registry import TECHNIQUES
from workbench.compress.result import ChainResult, StepResult
from workbench.data import Dataset
from workbench.models import count_params, seed_everything
from workbench.spec import StepSpec, TrainingSpec


def apply_steps(model: Any, steps: Sequence[StepSpec], data: Dataset, training: TrainingSpec) -> ChainResult:
    """Seed with ``training.seed``, then run every step on the previous step's model.

    Args:
        model: the Keras model to start from; not modified (each technique returns a new model).
        steps: validated step specs, applied in order.
        data: training and validation arrays.
        training: batch size and seed (each step has its own epochs and learning rate).
    Returns:
        The merged record, with ``params_before`` / ``params_after`` from ``count_params``.
    Raises:
        SpecError: a step's layer selection matches no supported layer.
    """
    seed_everything(training.seed)  # same spec, same fine-tuning, same numbers
    params_before = count_params(model)
    done: list[tuple[str, StepResult]] = []
    current = model
    for step in steps:
        if step.technique not in TECHNIQUES:  # specs are validated, so this is a programming error
            raise ValueError(f"unknown technique '{step.technique}'; known: {', '.join(TECHNIQUES)}")
        result = TECHNIQUES[step.technique](current, step, data, training)
        done.append((step.technique, result))
        current = result.model
    return ChainResult.from_steps(model, done, params_before, count_params(current))
