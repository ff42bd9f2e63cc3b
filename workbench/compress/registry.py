"""The static table from technique name (``workbench.spec.steps.TECHNIQUES``) to its function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.compress.cluster import apply_cluster
from workbench.compress.distill import apply_distill
from workbench.compress.lowrank import apply_lowrank
from workbench.compress.prune import apply_prune, apply_prune_structured
from workbench.compress.quantize import apply_qat
from workbench.compress.result import StepResult
from workbench.data import Dataset
from workbench.spec import TrainingSpec
from workbench.spec.steps import TECHNIQUES as STEP_TECHNIQUES

# (model, step spec, data, training) -> StepResult; the step spec's class is the technique's own.
Technique = Callable[[Any, Any, Dataset, TrainingSpec], StepResult]

TECHNIQUES: dict[str, Technique] = {
    "prune": apply_prune,
    "prune_structured": apply_prune_structured,
    "cluster": apply_cluster,
    "qat": apply_qat,
    "distill": apply_distill,
    "lowrank": apply_lowrank,
}
if set(TECHNIQUES) != set(STEP_TECHNIQUES):  # pragma: no cover - every step spec has its function, and no more
    raise ImportError(f"compress TECHNIQUES {sorted(TECHNIQUES)} != step specs {sorted(STEP_TECHNIQUES)}")
