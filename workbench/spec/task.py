"""The experiment's ``task``: what the model's outputs are scored on, and which metric is primary (the one
budgets, the Pareto fronts, the recommendation, the nightly gate and the dashboards rank by).

- ``classification`` (default): class-index labels; ``metric: top1`` (= ``accuracy``, the default) or ``top5``.
- ``regression``: real-valued labels in the output's unit; ``metric: mae`` (default) or ``rmse``.
- ``multi_output``: one metric per output, by the model's output name (``outputs: {age: mae, kind: top1}``),
  ``primary`` naming the output that ranks (default: the first). The labels are a dict, output -> array.
- ``fidelity``: no labels at all (an .npz of inputs only, a folder of images without class sub-folders, or any
  dataset whose labels are left out): the variants are ranked by how close their outputs stay to the float
  model's on the same inputs, ``metric: snr_db`` (default), ``cosine_similarity`` or ``max_abs_error``
  (``workbench.analysis.fidelity``, worst output). Fidelity is a floor, not a goal (float32 itself is the most
  faithful): ``budgets.worst`` must say the worst value accepted (``{snr_db: 30}``), and the recommendation is
  the fastest variant that meets it. It needs your trained model file, used as given (no training).
- training (``baseline.training.epochs``, a technique's fine-tuning) minimises the task's loss (``losses``):
  cross-entropy on class labels, MAE for an ``mae`` metric, MSE for ``rmse`` or a user metric; per output for
  multi_output. ``baseline.training.loss`` sets it instead. A fidelity task has no labels and trains nothing.
- any of them but fidelity takes a user metric instead of a built-in one: ``{function: "package.module:function", name,
  better: max | min, unit}``; the function is imported (never unpickled) at planning, like a
  ``module:function`` dataset, and called as ``function(y_true, y_pred) -> float`` per output.

The built-in metrics are declared once in ``workbench.catalog.metrics`` (``TASK_METRICS``); a metric is logged
under its name (an output's as ``<metric>/<output>``, the primary also under the plain name) with its change
against the float model as ``<name>_delta``. Pure: nothing is imported or read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from workbench.catalog.metrics import METRICS, TASK_LABELS, TASK_METRICS, Metric, metric, user_metric

TaskKind = Literal["classification", "regression", "multi_output", "fidelity"]
#: what training minimises on an output: cross-entropy on class labels (sparse, or binary for one sigmoid unit),
#: mean absolute or mean squared error on values
LossName = Literal["crossentropy", "mae", "mse"]
LOSS_NAMES: tuple[str, ...] = ("crossentropy", "mae", "mse")
_BUILTIN_FOR = {"classification": ("top1", "top5"), "regression": ("mae", "rmse"),
                "fidelity": ("snr_db", "cosine_similarity", "max_abs_error")}
_DEFAULT_FOR = {"classification": "top1", "regression": "mae", "fidelity": "snr_db"}


def _builtin(name: str) -> str:
    if name not in TASK_METRICS:
        raise ValueError(f"unknown metric '{name}'; use one of {', '.join(TASK_METRICS)} or a user metric "
                         "{function: 'package.module:function', name: ..., better: max|min}")
    return name


class UserMetricSpec(BaseModel):
    """A user's metric: ``function(y_true, y_pred) -> float`` over the whole test split of one output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    function: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
    better: Literal["max", "min"]
    unit: str = ""

    @model_validator(mode="after")
    def _not_a_builtin_name(self) -> UserMetricSpec:
        if self.name in METRICS or self.name.removesuffix("_delta") in METRICS:
            raise ValueError(f"user metric name '{self.name}' is a built-in metric's; choose another name")
        return self


MetricRef = Annotated[str, AfterValidator(_builtin)] | UserMetricSpec


@dataclass(frozen=True)
class Scored:
    """One metric a task logs: the output it scores (None: the model's first output), the metric as the
    experiment gave it, its catalogue record and the name it is logged under."""

    output: str | None
    ref: str | UserMetricSpec
    record: Metric
    logged: str

    @property
    def labels(self) -> str:
        """``classes`` or ``values``: what its labels are (a user metric takes them as given: ``values``)."""
        return TASK_LABELS[self.ref] if isinstance(self.ref, str) else "values"


class TaskSpec(BaseModel):
    """What the outputs are scored on; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TaskKind = "classification"
    metric: MetricRef | None = None
    outputs: dict[str, MetricRef] = Field(default_factory=dict)
    primary: str | None = None

    @model_validator(mode="after")
    def _fits_its_kind(self) -> TaskSpec:
        if self.kind == "multi_output":
            if not self.outputs or self.metric is not None:
                raise ValueError("multi_output: give outputs: {<output name>: <metric>, ...} (and no metric)")
            if self.primary is not None and self.primary not in self.outputs:
                raise ValueError(f"primary '{self.primary}' is not one of the outputs ({', '.join(self.outputs)})")
            return self
        if self.outputs or self.primary is not None:
            raise ValueError(f"{self.kind}: outputs and primary are for kind multi_output")
        allowed = _BUILTIN_FOR[self.kind]
        if self.kind == "fidelity" and isinstance(self.metric, UserMetricSpec):
            raise ValueError(f"fidelity: a user metric scores labels, and this task has none; use "
                             f"{' or '.join(allowed)}")
        if isinstance(self.metric, str) and self.metric not in allowed:
            raise ValueError(f"{self.kind}: metric '{self.metric}' does not fit; use {' or '.join(allowed)} or a "
                             "user metric")
        return self

    @property
    def classification(self) -> bool:
        """Today's task: class-index labels scored on the first output (accuracy, agreement, Wilson, McNemar)."""
        return self.kind == "classification"

    @property
    def fidelity(self) -> bool:
        """No labels: the primary metric is fidelity to the float model (a floor: ``budgets.worst``)."""
        return self.kind == "fidelity"

    @property
    def labels(self) -> str:
        """What the dataset's labels must be: ``classes``, ``values`` (regression), ``outputs`` (a dict) or
        ``none`` (fidelity: no labels)."""
        if self.kind in ("multi_output", "fidelity"):
            return {"multi_output": "outputs", "fidelity": "none"}[self.kind]
        return "classes" if self.classification else "values"

    def scored(self) -> tuple[Scored, ...]:
        """Every metric the task logs, the primary first."""
        if self.kind != "multi_output":
            ref = self.metric or _DEFAULT_FOR[self.kind]
            record = _record(ref)
            return (Scored(None, ref, record, record.name),)
        first = self.primary or next(iter(self.outputs))
        order = [first, *(o for o in self.outputs if o != first)]
        return tuple(Scored(o, self.outputs[o], _record(self.outputs[o]), f"{_record(self.outputs[o]).name}/{o}")
                     for o in order)

    def primary_metric(self) -> Metric:
        """The record of the primary metric, logged under its plain name (``accuracy``, ``mae``, ...)."""
        return self.scored()[0].record

    def user_functions(self) -> tuple[str, ...]:
        """The ``package.module:function`` of every user metric (imported and checked at planning)."""
        return tuple(s.ref.function for s in self.scored() if isinstance(s.ref, UserMetricSpec))

    def losses(self) -> dict[str, str]:
        """What training (the baseline's ``training.epochs``, a technique's fine-tuning) minimises, per output:
        output name -> loss name (``LOSS_NAMES``), ``""`` for the one output of a single-output task. Class labels
        (``top1``, ``top5``): ``crossentropy``; an ``mae`` metric: ``mae``; ``rmse`` or a user metric: ``mse``.
        A fidelity task has no labels to train on: none."""
        if self.fidelity:
            return {}
        return {s.output or "": _loss_for(s.ref) for s in self.scored()}

    def budget_names(self) -> tuple[str, ...]:
        """The metric names ``budgets.max_delta`` may limit: the primary's plain name and every logged one (none
        for fidelity: it is measured against float already, and limited by ``budgets.worst``)."""
        if self.fidelity:
            return ()
        return tuple(dict.fromkeys([self.primary_metric().name, *(s.logged for s in self.scored())]))


def _record(ref: str | UserMetricSpec) -> Metric:
    return metric(TASK_METRICS[ref]) if isinstance(ref, str) else user_metric(ref.name, ref.better, ref.unit)


def _loss_for(ref: str | UserMetricSpec) -> str:
    if isinstance(ref, str) and TASK_LABELS[ref] == "classes":
        return "crossentropy"
    return "mae" if ref == "mae" else "mse"
