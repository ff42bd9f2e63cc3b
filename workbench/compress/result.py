"""What a technique returns (``StepResult``) and what a chain of them returns (``ChainResult``).

Plain frozen records; ``ChainResult.from_steps`` merges step records without touching TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LABEL_ONLY = "label_only"  # companion key: the distilled student's twin trained from labels alone


@dataclass(frozen=True)
class StepResult:
    """One technique's output.

    Attributes:
        model: the trained Keras model, a new object (the technique's input model is left as it was).
        history: per-epoch metrics, unprefixed (``loss``, ``val_accuracy``, ...).
        facts: JSON-able findings, e.g. ``pruned_layers``, ``lowrank``, ``student_params``.
        notes: sentences for the run's notes.
        companions: extra Keras models by role, e.g. ``"label_only"`` (see ``LABEL_ONLY``).
    """

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    companions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainResult:
    """A chain of steps' merged output.

    Attributes:
        model: the last step's model (the input model when there were no steps).
        history: every step's history, keys prefixed ``{index}_{technique}_`` (e.g. ``0_prune_loss``).
        facts: the steps' facts merged in order (a later step's key wins).
        notes: every step's notes, in order.
        companions: the steps' companion models merged in order (a later step's key wins).
        params_before: ``count_params`` of the input model.
        params_after: ``count_params`` of ``model``.
    """

    model: Any
    history: dict[str, list[float]]
    facts: dict[str, Any]
    notes: tuple[str, ...]
    companions: dict[str, Any]
    params_before: int
    params_after: int

    @property
    def params_ratio(self) -> float | None:
        """Student parameters over teacher parameters when a step distilled, else None."""
        if "student_params" not in self.facts:
            return None
        return float(self.facts["student_params"]) / float(self.facts["teacher_params"])

    @classmethod
    def from_steps(cls, model: Any, steps: Sequence[tuple[str, StepResult]], params_before: int,
                   params_after: int) -> ChainResult:
        """Merge ``(technique, result)`` pairs, in the order they ran, into one record.

        Args:
            model: the chain's input model (returned as ``model`` when ``steps`` is empty).
            steps: each step's technique name and result.
            params_before: parameters of the input model.
            params_after: parameters of the final model.
        """
        history: dict[str, list[float]] = {}
        facts: dict[str, Any] = {}
        notes: list[str] = []
        companions: dict[str, Any] = {}
        for i, (technique, r) in enumerate(steps):
            history.update({f"{i}_{technique}_{k}": list(v) for k, v in r.history.items()})
            facts.update(r.facts)
            notes.extend(r.notes)
            companions.update(r.companions)
        final = steps[-1][1].model if steps else model
        return cls(final, history, facts, tuple(notes), companions, params_before, params_after)
