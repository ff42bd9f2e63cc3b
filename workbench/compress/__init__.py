"""Training-time compression steps. ``apply_steps`` dispatches each spec to its family's module."""

from workbench.spec.steps import TECHNIQUES, StepSpec

__all__ = ["TECHNIQUES", "StepSpec"]
