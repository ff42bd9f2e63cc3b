"""Step specs for training-time techniques: pure data, validated at construction, no TensorFlow.

A variant is ``steps`` (any chain of these) followed by a post-training quantization mode. Each spec
names its technique in ``technique`` (the YAML discriminator); its implementation is registered under
the same name in ``workbench.compress.TECHNIQUES``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: Annotated[int, Field(ge=0, le=1000)] = 2
    learning_rate: Annotated[float, Field(gt=0, le=1.0)] = 1e-4


class LayerSelection(BaseModel):
    """Which layers a step touches: all supported ones, or by Keras class name and/or name regex."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    types: tuple[str, ...] = ()  # e.g. ("Conv2D", "Dense"); empty = every supported type
    names: tuple[str, ...] = ()  # regular expressions matched against layer.name; empty = every name

    def describe(self) -> str:
        parts = [f"types={list(self.types)}" if self.types else "", f"names={list(self.names)}" if self.names else ""]
        return " ".join(p for p in parts if p) or "all supported layers"


class PruneSpec(_Step):
    """Magnitude pruning (tfmot): constant or polynomial-decay schedule, then wrappers stripped."""

    technique: Literal["prune"] = "prune"
    epochs: Annotated[int, Field(ge=1, le=1000)] = 2  # the mask is applied during fine-tuning
    sparsity: Annotated[float, Field(gt=0, lt=1)] = 0.5
    schedule: Literal["polynomial", "constant"] = "polynomial"
    initial_sparsity: Annotated[float, Field(ge=0, lt=1)] = 0.0
    begin_step: Annotated[int, Field(ge=0)] = 0
    end_step: Annotated[int, Field(ge=1)] | None = None  # None: the last step of fine-tuning
    frequency: Annotated[int, Field(ge=1)] = 50
    layers: LayerSelection = LayerSelection()

    @model_validator(mode="after")
    def _schedule_is_consistent(self) -> PruneSpec:
        if self.schedule == "polynomial" and self.initial_sparsity >= self.sparsity:
            raise ValueError(f"initial_sparsity ({self.initial_sparsity}) must be < sparsity ({self.sparsity})")
        if self.end_step is not None and self.end_step <= self.begin_step:
            raise ValueError(f"end_step ({self.end_step}) must be > begin_step ({self.begin_step})")
        return self


class StructuredPruneSpec(_Step):
    """M-by-N structured sparsity (2:4 by default): at least M zeros in every N consecutive weights along
    the input-channel axis (tfmot's ``sparsity_m_by_n`` convention)."""

    technique: Literal["prune_structured"] = "prune_structured"
    epochs: Annotated[int, Field(ge=1, le=1000)] = 2  # the mask is applied during fine-tuning
    m: Annotated[int, Field(ge=1)] = 2  # zeros per block
    n: Annotated[int, Field(ge=2)] = 4  # block length
    layers: LayerSelection = LayerSelection()

    @model_validator(mode="after")
    def _m_below_n(self) -> StructuredPruneSpec:
        if self.m >= self.n:
            raise ValueError(f"m ({self.m}) must be < n ({self.n})")
        return self


class ClusterSpec(_Step):
    """Weight clustering (tfmot): n centroids per kernel, optionally preserving sparsity."""

    technique: Literal["cluster"] = "cluster"
    clusters: Annotated[int, Field(ge=2, le=256)] = 16
    init: Literal["kmeans_plus_plus", "linear", "density", "random"] = "kmeans_plus_plus"
    preserve_sparsity: bool = False
    layers: LayerSelection = LayerSelection()


class QATSpec(_Step):
    """Quantization-aware training (int8), optionally preserving sparsity (PQAT) / clusters (CQAT) / both."""

    technique: Literal["qat"] = "qat"
    preserve: Literal["none", "sparsity", "clusters", "both"] = "none"


class DistillSpec(_Step):
    """Knowledge distillation: the baseline teaches a smaller student."""

    technique: Literal["distill"] = "distill"
    student: str = "digits_cnn"  # a zoo name
    student_args: dict[str, Any] = Field(default_factory=lambda: {"width": 0.5})
    temperature: Annotated[float, Field(gt=0, le=100)] = 4.0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.5  # weight of the soft (teacher) loss
    epochs: Annotated[int, Field(ge=1, le=1000)] = 10
    learning_rate: Annotated[float, Field(gt=0, le=1.0)] = 1e-3
    compare_label_only: bool = True


class LowRankSpec(_Step):
    """Truncated-SVD factorization of Dense (and 1x1 conv) kernels, then fine-tuning."""

    technique: Literal["lowrank"] = "lowrank"
    rank: Annotated[int, Field(ge=1)] | None = None
    energy: Annotated[float, Field(gt=0, le=1)] | None = None
    layers: LayerSelection = LayerSelection(types=("Dense",))

    @model_validator(mode="after")
    def _rank_or_energy(self) -> LowRankSpec:
        if (self.rank is None) == (self.energy is None):
            raise ValueError("give exactly one of rank (a number) or energy (a fraction of singular-value energy)")
        return self


StepSpec = Annotated[
    PruneSpec | StructuredPruneSpec | ClusterSpec | QATSpec | DistillSpec | LowRankSpec,
    Field(discriminator="technique"),
]
TECHNIQUES: tuple[str, ...] = ("prune", "prune_structured", "cluster", "qat", "distill", "lowrank")
