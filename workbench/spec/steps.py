"""Step specs for training-time techniques: pure data, validated at construction, no TensorFlow.

A variant is ``steps`` (any chain of these) followed by a post-training quantization mode. Each spec is
its technique's one declaration: its name in ``technique`` (the YAML discriminator), what it does in its
docstring, its explorer controls as field metadata (``knob(...)``, see ``workbench.spec.knobs``), its
dropdown ``label`` and the quick fine-tuning the explorer uses (``explore``). Its implementation is
registered under the same name in ``workbench.compress.TECHNIQUES``.

A new technique: a spec class here, added to ``StepSpec``; its function in ``compress/``; its registry line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.catalog.zoo import ZOO_MODELS, model_args_problem
from workbench.spec.domains import refuse_bools
from workbench.spec.knobs import Knob, field_knobs, knob


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        return refuse_bools(cls, data)

    #: the explorer's dropdown label (else the technique's name)
    label: ClassVar[str] = ""
    #: the explorer's fine-tuning for this technique (a quick run; the spec's own defaults are for sweeps)
    explore: ClassVar[Mapping[str, Any]] = {}
    #: exports full-integer only (the explorer offers int8 / int8_io alone)
    int8_only: ClassVar[bool] = False

    epochs: Annotated[int, Field(ge=0, le=1000)] = 2
    learning_rate: Annotated[float, Field(gt=0, le=1.0)] = 1e-4

    @classmethod
    def name(cls) -> str:
        """The technique's name (the ``technique`` field's only value)."""
        return str(cls.model_fields["technique"].default)

    @classmethod
    def knobs(cls) -> tuple[Knob, ...]:
        """The explorer's controls for this technique: its knob fields (see ``from_knobs`` for others)."""
        return field_knobs(cls)

    @classmethod
    def from_knobs(cls, values: Mapping[str, int | float], baseline: Any) -> dict[str, Any]:
        """The step (as data) the explorer's controls describe: ``explore`` settings plus the knob values.
        ``baseline`` is the experiment's ``BaselineSpec`` (a technique may size itself from it)."""
        return {"technique": cls.name(), **cls.explore, **values}


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

    label: ClassVar[str] = "prune (magnitude)"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 6, "learning_rate": 0.001}

    technique: Literal["prune"] = "prune"
    epochs: Annotated[int, Field(ge=1, le=1000)] = 2  # the mask is applied during fine-tuning
    sparsity: Annotated[float, Field(gt=0, lt=1)] = Field(0.5, json_schema_extra=knob("sparsity", 0.1, 0.95, 0.05))
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

    label: ClassVar[str] = "2:4 structured sparsity"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 3, "learning_rate": 0.0005}

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

    label: ClassVar[str] = "cluster weights"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 3, "learning_rate": 0.0001}

    technique: Literal["cluster"] = "cluster"
    clusters: Annotated[int, Field(ge=2, le=256)] = Field(16, json_schema_extra=knob("clusters", 2, 64))
    init: Literal["kmeans_plus_plus", "linear", "density", "random"] = "kmeans_plus_plus"
    preserve_sparsity: bool = False
    layers: LayerSelection = LayerSelection()


class QATSpec(_Step):
    """Quantization-aware training (int8), optionally preserving sparsity (PQAT) / clusters (CQAT) / both."""

    label: ClassVar[str] = "quantization-aware training"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 2, "learning_rate": 0.0001}
    int8_only: ClassVar[bool] = True

    technique: Literal["qat"] = "qat"
    preserve: Literal["none", "sparsity", "clusters", "both"] = "none"


class DistillSpec(_Step):
    """Knowledge distillation: the baseline teaches a smaller student; the same student trained from labels
    alone is measured too."""

    label: ClassVar[str] = "distill into a smaller student"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 10}
    #: not a field: the student's width relative to the baseline (``from_knobs`` turns it into model args)
    STUDENT_WIDTH: ClassVar[Knob] = Knob("student_width", "student width", 0.125, 1.0, 0.125, 0.5)

    technique: Literal["distill"] = "distill"
    student: str = "digits_cnn"  # a zoo name
    student_args: dict[str, Any] = Field(default_factory=lambda: {"width": 0.5})
    temperature: Annotated[float, Field(gt=0, le=100)] = Field(4.0, json_schema_extra=knob("temperature", 1, 20, 0.5))
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(  # weight of the soft (teacher) loss
        0.5, json_schema_extra=knob("teacher weight α", 0, 1, 0.05))
    epochs: Annotated[int, Field(ge=1, le=1000)] = 10
    learning_rate: Annotated[float, Field(gt=0, le=1.0)] = 1e-3
    compare_label_only: bool = True

    @model_validator(mode="after")
    def _student_is_a_zoo_model(self) -> DistillSpec:
        if self.student not in ZOO_MODELS:
            raise ValueError(f"student: '{self.student}' is not a zoo model ({', '.join(ZOO_MODELS)})")
        problem = model_args_problem(self.student, self.student_args)
        if problem:
            raise ValueError(f"student_args: {problem}")
        return self

    @classmethod
    def knobs(cls) -> tuple[Knob, ...]:
        return (cls.STUDENT_WIDTH, *field_knobs(cls))

    @classmethod
    def from_knobs(cls, values: Mapping[str, int | float], baseline: Any) -> dict[str, Any]:
        """A narrower copy of the baseline (zoo models); other baselines get the digits CNN at that width."""
        width = float(values["student_width"])
        rest = {k: v for k, v in values.items() if k != "student_width"}
        args = dict(baseline.model_args)
        if baseline.model == "digits_cnn":
            dense = int(args.get("dense", 128))
            student = {"student": "digits_cnn", "student_args": {
                **args, "width": float(args.get("width", 1.0)) * width, "dense": max(8, round(dense * width))}}
        elif baseline.model.startswith("mobilenet"):
            student = {"student": baseline.model,
                       "student_args": {**args, "alpha": float(args.get("alpha", 1.0)) * width}}
        else:
            student = {"student": "digits_cnn", "student_args": {"width": width}}
        return {"technique": cls.name(), **student, **cls.explore, **rest}


class LowRankSpec(_Step):
    """Truncated-SVD factorization of Dense (and 1x1 conv) kernels, then fine-tuning."""

    label: ClassVar[str] = "low-rank (SVD) factorization"
    explore: ClassVar[Mapping[str, Any]] = {"epochs": 3, "learning_rate": 0.0005}

    technique: Literal["lowrank"] = "lowrank"
    rank: Annotated[int, Field(ge=1)] | None = Field(None, json_schema_extra=knob("rank", 1, 128, default=16))
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
#: every step spec class, in ``StepSpec``'s order (the one list of techniques)
STEP_SPECS: tuple[type[_Step], ...] = get_args(get_args(StepSpec)[0])
TECHNIQUES: tuple[str, ...] = tuple(s.name() for s in STEP_SPECS)
