"""Dispatch a variant's steps, in order, to their technique implementations."""

from __future__ import annotations

from typing import Any

from workbench.spec.steps import TECHNIQUES


def apply_steps(model: Any, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    """Run every step of ``ctx.variant`` on ``model``; returns the final model and the merged per-epoch
    history (metric names prefixed with the step index and technique, e.g. ``0_prune_loss``)."""
    history: dict[str, list[float]] = {}
    for i, step in enumerate(ctx.variant.steps):
        impl = _implementation(step.technique)
        model, h = impl(model, step, ctx)
        history.update({f"{i}_{step.technique}_{k}": v for k, v in (h or {}).items()})
    return model, history


def _implementation(technique: str) -> Any:
    if technique not in TECHNIQUES:  # specs are validated, so this is a programming error
        raise ValueError(f"unknown technique '{technique}'")
    from importlib import import_module

    module = {"prune": "prune", "prune_structured": "prune", "cluster": "cluster", "qat": "quantize",
              "distill": "distill", "lowrank": "lowrank"}[technique]
    return getattr(import_module(f"workbench.compress.{module}"), f"apply_{technique}")
