"""Training-time compression: each technique is a function ``(model, step, data, training) -> StepResult``
registered by name in ``TECHNIQUES``; ``apply_steps`` runs a chain of them into a ``ChainResult``."""

from workbench.compress.apply import apply_steps
from workbench.compress.registry import TECHNIQUES, Technique
from workbench.compress.result import LABEL_ONLY, ChainResult, StepResult

__all__ = ["LABEL_ONLY", "TECHNIQUES", "ChainResult", "StepResult", "Technique", "apply_steps"]
