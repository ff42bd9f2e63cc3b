"""Experiment, baseline, target, budget and variant specs: frozen pydantic models.

Creating a spec never touches files, network or environment, and nothing here imports TensorFlow.
Reading YAML is ``workbench.spec.load``; ids are ``workbench.spec.ids``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from workbench.catalog.metrics import FIDELITY, metric
from workbench.catalog.quantization import MIXED, QUANT_MODE_INFO, QUANT_MODES, recipe_hash, recipe_problem
from workbench.catalog.runtimes import RUNTIMES as RUNTIMES_INFO
from workbench.catalog.runtimes import accelerators, runtime, runtime_names
from workbench.catalog.zoo import ZOO_MODELS, ZOO_NAMES, model_args_problem
from workbench.errors import SpecError
from workbench.spec.domains import Seed, least_profile_s, refuse_bools
from workbench.spec.matrix import count_matrix, expand_matrix
from workbench.spec.steps import STEP_SPECS, StepSpec
from workbench.spec.task import LossName, TaskSpec

if TYPE_CHECKING:
    QuantMode = str
else:  # the catalogue's names as a Literal: pydantic's error lists the allowed ones
    QuantMode = Literal[QUANT_MODES]
#: an experiment name's length in UTF-8 bytes: file names hold 255 bytes, and the longest file named after an
#: experiment, its dashboard ``<name>-search-<sweep id>.html``, adds 36 (a CJK character takes 3 bytes)
MAX_NAME_BYTES = 200
DEFAULT_MAX_VARIANTS = 500
_NAME_CHARS = "letters, digits, spaces, '_', '-' and '.'"


class Spec(BaseModel):
    """Base for every spec: frozen, unknown keys rejected, booleans refused where a number is meant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        return refuse_bools(cls, data)


class TrainingSpec(Spec):
    epochs: Annotated[int, Field(ge=0, le=1000)] = 10
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 32
    learning_rate: Annotated[float, Field(gt=0, le=1.0)] = 1e-3
    seed: Seed = 0
    # what training minimises (the baseline's epochs and every technique's fine-tuning): None = the task's
    # (spec/task.py TaskSpec.losses: cross-entropy on classes, mae for an MAE metric, mse otherwise); one loss, or
    # output name -> loss for a multi_output task
    loss: LossName | dict[str, LossName] | None = None


class BaselineSpec(Spec):
    """The float model every variant starts from, and its data."""

    model: str = Field(description="zoo name (digits_cnn, mobilenet_v2, ...) or a .keras/.h5/SavedModel path")
    model_args: dict[str, Any] = Field(default_factory=dict)
    dataset: str = Field(description="digits | synthetic | path to an .npz with x_train,y_train,x_test,y_test "
                         "(several inputs: x_train_<input>, x_test_<input>) | "
                         "a folder of images, one sub-folder per class | package.module:function")
    dataset_args: dict[str, Any] = Field(default_factory=dict)
    training: TrainingSpec = TrainingSpec()

    @model_validator(mode="before")
    @classmethod
    def _user_model_kept_as_given(cls, data: Any) -> Any:
        """A user's model file is the float reference as given: ``training.epochs`` defaults to 0 for it (a zoo
        model, built untrained, keeps the default of 10). Decided from the name alone: no file is read."""
        if not isinstance(data, dict) or not isinstance(data.get("model"), str) or data["model"] in ZOO_NAMES:
            return data
        training = data.get("training")
        if training is None:
            training = {}
        if isinstance(training, TrainingSpec):
            if "epochs" in training.model_fields_set:
                return data
            training = training.model_dump(exclude_unset=True)
        if isinstance(training, dict) and "epochs" not in training:
            return {**data, "training": {**training, "epochs": 0}}
        return data

    @property
    def is_user_model(self) -> bool:
        """True for a model file the user brings (not a zoo name)."""
        return self.model not in ZOO_NAMES

    def training_words(self) -> str:
        """What the float reference is, in the words every run and the sweep's summary use."""
        n = self.training.epochs
        if not self.is_user_model:
            return f"zoo model {self.model}, trained {n} epoch{'s' if n != 1 else ''} on the dataset"
        if n == 0:
            return "your model, not retrained"
        return f"retrained {n} epoch{'s' if n != 1 else ''} from your weights"

    @model_validator(mode="after")
    def _zoo_model_takes_its_args(self) -> BaselineSpec:
        problem = model_args_problem(self.model, self.model_args) if self.model in ZOO_MODELS else ""
        if problem:
            raise ValueError(f"model_args: {problem}")
        return self


def _known_runtime(name: str) -> str:
    runtime(name)  # ValueError naming the known runtimes
    return name


def _known_accelerator(name: str) -> str:
    if name not in accelerators():
        raise ValueError(f"unknown accelerator '{name}'; known: {', '.join(accelerators())}")
    return name


#: a runtime of the catalogue (workbench.catalog.runtimes): litert, onnxruntime, openvino, ...
Runtime = Annotated[str, AfterValidator(_known_runtime)]
RUNTIMES: tuple[str, ...] = runtime_names()
#: an accelerator some runtime offers; which runtime offers which is each catalogue record's ``accelerators``
Accelerator = Annotated[str, AfterValidator(_known_accelerator)]


class TargetSpec(Spec):
    """Where and how a model is measured. Every field changes the numbers, so all are recorded."""

    name: str = "local"
    host: str | None = Field(default=None, description="user@host for an SSH target; None = this machine")
    runtime: Runtime = "litert"  # what each runs: workbench.catalog.runtimes
    accelerator: Accelerator = "cpu"  # each runtime's own: its catalogue record
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    api: Literal["interpreter", "compiled_model"] = "interpreter"
    xnnpack: bool = True
    kernels: Literal["optimized", "reference"] = "optimized"  # reference = LiteRT's BUILTIN_REF kernels
    batch: Annotated[int, Field(ge=1, le=1024)] = 1
    #: the shape of an input with dynamic dimensions, by input name (e.g. images: [1, 3, 640, 640])
    input_shapes: dict[str, list[Annotated[int, Field(ge=1)]]] = Field(default_factory=dict)
    input_source: Literal["test", "random"] = "test"
    warmup_runs: Annotated[int, Field(ge=0)] = 10
    min_runs: Annotated[int, Field(ge=1)] = 50
    min_seconds: Annotated[float, Field(ge=0)] = 1.0
    max_runs: Annotated[int, Field(ge=1)] = 10_000
    max_seconds: Annotated[float, Field(gt=0)] = 30.0
    cpu_pin: list[int] | None = None
    #: a remote device's usable CPUs, by count (CPUs 0..cpus-1): `validate` checks threads, cpu_pin and clients
    #: against it; unset, against what the device's last profile recorded (``workbench.devices``), else not at all
    cpus: Annotated[int, Field(ge=1, le=4096)] | None = None
    clients: Annotated[int, Field(ge=1, le=256)] = 1  # > 1: also run the load scenario
    load_seconds: Annotated[float, Field(ge=0)] = 0.0  # > 0: N clients invoke for this long (service case)
    ssh_port: Annotated[int, Field(ge=1, le=65535)] = 22
    ssh_key: str | None = None
    remote_python: str = "python3"

    @model_validator(mode="after")
    def _caps_cover_minimums(self) -> TargetSpec:
        if self.max_runs < self.min_runs:
            raise ValueError(f"max_runs ({self.max_runs}) must be >= min_runs ({self.min_runs})")
        if self.max_seconds < self.min_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) must be >= min_seconds ({self.min_seconds})")
        if self.cpus is not None and not self.host:
            raise ValueError(f"cpus: {self.cpus} declares a remote device's CPUs (with host: user@device); a local "
                             "target is checked against this machine's own")
        info = runtime(self.runtime)
        if self.accelerator not in info.accelerators:
            raise ValueError(f"accelerator '{self.accelerator}' is not one of {self.runtime}'s: "
                             f"{', '.join(info.accelerators)}")
        for other in RUNTIMES_INFO.values():
            for key, default in other.own_options.items():
                if other.name != self.runtime and getattr(self, key) != default:
                    raise ValueError(f"{key}: '{getattr(self, key)}' is a {other.display} option; runtime "
                                     f"{self.runtime} takes only {key}: {default}")
        if self.runtime == "litert" and self.accelerator != "cpu" and self.api != "compiled_model":
            raise ValueError(f"accelerator '{self.accelerator}': LiteRT's accelerators need api: compiled_model")
        return self


class BudgetSpec(Spec):
    """Limits a shippable variant must meet (dashboard, recommendation, search)."""

    max_accuracy_drop: Annotated[float, Field(ge=0)] | None = None  # percentage points
    max_latency_ms: Annotated[float, Field(gt=0)] | None = None
    max_size_kb: Annotated[float, Field(gt=0)] | None = None
    max_memory_mb: Annotated[float, Field(gt=0)] | None = None
    # how much worse than float a task metric may get, in its delta's unit (accuracy: points; MAE: the output's
    # unit): {mae: 0.05}, {accuracy: 1.0} (= max_accuracy_drop: 1.0), {"mae/age": 0.5}; keys: the task's metrics
    max_delta: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    # the worst value a metric may take, in its own unit, by its better direction: {snr_db: 30} (at least 30 dB),
    # {max_abs_error: 0.05} (at most 0.05); any metric with a better direction, e.g. fidelity to float for a
    # task without labels (kind fidelity needs one)
    worst: dict[str, float] = Field(default_factory=dict)


class RegressionSpec(Spec):
    """Thresholds for ``--compare-to`` (nightly)."""

    max_accuracy_drop_pts: Annotated[float, Field(ge=0)] = 0.5
    # a primary metric other than accuracy: how much worse than last night it may get (its unit); default 0
    max_delta: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    min_latency_rise: Annotated[float, Field(ge=0)] = 0.05  # relative; also must exceed the profiles' noise
    max_size_change: Annotated[float, Field(ge=0)] = 0.0  # relative; any change of the file is reported


class SearchSpec(Spec):
    """Accuracy-budget search: try variants from declared ranges until a stop condition holds."""

    space: tuple[dict[str, Any], ...]  # each entry expands like `matrix` (lists are ranges)
    max_accuracy_drop: Annotated[float, Field(ge=0)] | None = None  # default: budgets.max_accuracy_drop
    goal_compression_ratio_gzip: Annotated[float, Field(gt=0)] | None = None  # stop when a trial reaches it
    max_trials: Annotated[int, Field(ge=1, le=10_000)] = 10
    max_seconds: Annotated[float, Field(gt=0)] = 3600.0
    seed: Seed = 0


class VariantSpec(Spec):
    """One compressed variant: training-time steps, then a post-training quantization mode."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
    steps: tuple[StepSpec, ...] = ()
    quantization: QuantMode = "float32"
    calibration_samples: Annotated[int, Field(ge=1, le=100_000)] | None = None
    timeout_s: Annotated[float, Field(gt=0)] | None = None
    keep_float: Annotated[int, Field(ge=0, le=1000)] = 0  # selective int8: k most sensitive layers stay float
    runtime: Runtime | None = None  # measured on this runtime instead of target.runtime (a `matrix` axis)
    #: quantization mixed: the LiteRT Quantizer recipe (its JSON form: per-layer rules), inline or, in a YAML
    #: file, the path of a .json file beside it (``workbench search --precision`` writes them); in the id
    recipe: tuple[dict[str, Any], ...] | None = None

    @field_validator("recipe", mode="before")
    @classmethod
    def _recipe_is_a_list(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, list | tuple):
            raise ValueError(f"is not a list of rules (got {type(value).__name__}): give the LiteRT Quantizer's JSON "
                             "recipe inline, or the path of a .json file that holds one")
        return value

    @model_validator(mode="after")
    def _recipe_with_mixed(self) -> VariantSpec:
        if self.quantization == MIXED and self.recipe is None:
            raise ValueError("quantization mixed needs a recipe: (a LiteRT Quantizer recipe, inline or a .json "
                             "path, e.g. one `workbench search --precision` wrote)")
        if self.recipe is not None:
            if self.quantization != MIXED:
                raise ValueError(f"recipe: is the per-layer recipe of quantization mixed, not "
                                 f"'{self.quantization}'; set quantization: mixed")
            if (problem := recipe_problem(self.recipe)) is not None:
                raise ValueError(f"recipe: {problem}")
            if self.steps:
                raise ValueError("recipe: a per-layer recipe quantizes the float baseline's .tflite as found; "
                                 "it does not combine with training-time steps")
        return self

    @model_validator(mode="after")
    def _keep_float_needs_int8(self) -> VariantSpec:
        if self.keep_float and self.quantization not in ("int8", "int8_io"):
            raise ValueError(f"keep_float needs quantization int8 or int8_io, not '{self.quantization}'")
        if any(s.technique == "qat" for s in self.steps) and self.quantization not in ("int8", "int8_io"):
            raise ValueError(f"qat trains int8 fake-quant ranges: export it with quantization int8 or int8_io, "
                             f"not '{self.quantization}'")
        if self.keep_float and any(s.technique == "qat" for s in self.steps):
            raise ValueError("keep_float (selective post-training quantization) does not combine with qat")
        return self

    @property
    def technique(self) -> str:
        """A short label: the step techniques then the quantization mode, e.g. ``prune+cluster>int8``."""
        chain = "+".join(s.technique for s in self.steps)
        quant = f"{self.quantization}-keep{self.keep_float}" if self.keep_float else self.quantization
        if self.recipe is not None:
            quant = f"{MIXED}-{recipe_hash(self.recipe)}"
        return f"{chain}>{quant}" if chain else f"ptq:{quant}"


class ExperimentSpec(Spec):
    name: str  # names files and the MLflow experiment: see _name_is_file_safe
    description: str = ""
    baseline: BaselineSpec
    task: TaskSpec = TaskSpec()  # what outputs are scored on and which metric is primary (spec/task.py)
    target: TargetSpec = TargetSpec()
    calibration_samples: Annotated[int, Field(ge=1, le=100_000)] = 200
    # interleaved profiling rounds per variant (variant and float reference, A B / B A, fresh processes); the
    # target's timing budget is split over them; intervals and speed-ups come from the spread over rounds
    rounds: Annotated[int, Field(ge=1, le=50)] = 5
    budgets: BudgetSpec = BudgetSpec()
    regression: RegressionSpec = RegressionSpec()
    max_variants: Annotated[int, Field(ge=1, le=100_000)] = DEFAULT_MAX_VARIANTS  # cap on variants + matrix, and on search.space
    # the baseline's estimated memory (workbench.spec.fit: parameters and activations from its config and the
    # data's shape), refused above this before any training; raise it for a model meant to be that large
    max_model_mb: Annotated[float, Field(gt=0)] = 4096.0
    search: SearchSpec | None = None
    profiles: tuple[dict[str, Any], ...] = ()  # extra profile axes: [{name: t2, threads: 2}, {name: ref, kernels: reference}]
    variant_timeout_s: Annotated[float, Field(gt=0)] = 1800.0
    variants: tuple[VariantSpec, ...] = ()
    matrix: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _task_fits(self) -> ExperimentSpec:
        known = self.task.budget_names()
        for field_name, limits in (("budgets", self.budgets.max_delta), ("regression", self.regression.max_delta)):
            unknown = [k for k in limits if k not in known]
            if unknown:
                use = (f"use {', '.join(known)}" if known else "a fidelity task is measured against float32 "
                       "already: limit it with budgets.worst")
                raise ValueError(f"{field_name}.max_delta: {', '.join(unknown)} is not a metric of this task; {use}")
        self._worst_budgets_known()
        self._loss_fits()
        if self.task.classification:
            return self
        if self.task.fidelity:
            return self._fidelity_fits()
        if self.search is not None:
            raise ValueError(f"search: the accuracy-budget search needs task kind classification, not "
                             f"'{self.task.kind}'; list the variants (or a matrix) instead")
        if self.task.kind == "multi_output" and not self.baseline.is_user_model:
            raise ValueError(f"task multi_output: zoo model '{self.baseline.model}' has one output; give a model "
                             "file with the outputs the task names")
        distilled = [v.name for v in (*self.variants, *variants_from_matrix(self.matrix or {}, set()))
                     if any(s.technique == "distill" for s in v.steps)]
        if distilled:
            raise ValueError(f"task {self.task.kind}: variant {distilled[0]} distills, which matches class "
                             "probabilities; distillation needs task kind classification (prune, cluster, QAT and "
                             "low-rank fine-tune with the task's loss)")
        return self

    def _loss_fits(self) -> None:
        """``baseline.training.loss``, when given, names the task's outputs (a dict for multi_output only)."""
        loss = self.baseline.training.loss
        if loss is None:
            return
        outputs = self.task.losses()
        if isinstance(loss, dict) != (self.task.kind == "multi_output"):
            raise ValueError("baseline.training.loss: give one loss (crossentropy, mae, mse) for a single-output "
                             "task, or output name -> loss for multi_output")
        for name, given in (loss.items() if isinstance(loss, dict) else [("", loss)]):
            if name not in outputs:
                raise ValueError(f"baseline.training.loss: '{name}' is not an output of the task ({', '.join(outputs)})")
            if (given == "crossentropy") != (outputs[name] == "crossentropy"):
                what = "class labels" if outputs[name] == "crossentropy" else "values"
                raise ValueError(f"baseline.training.loss: {given} does not fit {f'output {name!r}' if name else 'the task'}"
                                 f", scored on {what}; use {'crossentropy' if what == 'class labels' else 'mae or mse'}")

    def resolved_training(self) -> TrainingSpec:
        """``baseline.training`` with its loss decided: as given, else the task's (``TaskSpec.losses``; for
        multi_output, the outputs the given dict leaves out keep the task's)."""
        training, given = self.baseline.training, self.baseline.training.loss
        if isinstance(given, str):
            return training
        return training.model_copy(update={"loss": {**self.task.losses(), **(given or {})}})

    def _worst_budgets_known(self) -> None:
        for name in self.budgets.worst:
            try:
                better = metric(name).better if name not in self.task.budget_names() else "max"
            except KeyError:
                better = None
            if better is None:
                known = ", ".join(dict.fromkeys([*self.task.budget_names(), *FIDELITY, "accuracy", "size_bytes"]))
                raise ValueError(f"budgets.worst: {name} is not a metric with a better direction; use e.g. {known}")

    def _fidelity_fits(self) -> ExperimentSpec:
        """A task without labels: the user's model as given, no training, a floor on a fidelity metric."""
        if not self.baseline.is_user_model:
            raise ValueError(f"task fidelity: zoo model '{self.baseline.model}' would be trained, and this task has "
                             "no labels; give your trained model file (baseline.model: path/to/model.keras)")
        trained = [v.name for v in (*self.variants, *variants_from_matrix(self.matrix or {}, set())) if v.steps]
        if trained or self.baseline.training.epochs or self.search is not None:
            what = (f"variant {trained[0]} has training-time steps" if trained else "baseline.training.epochs > 0"
                    if self.baseline.training.epochs else "search: needs an accuracy")
            raise ValueError(f"task fidelity: {what}, but there are no labels to train on; use your model as given "
                             "with post-training quantization")
        if not any(k.partition("/")[0] in FIDELITY for k in self.budgets.worst):
            primary = self.task.primary_metric()
            example = {"snr_db": 30, "cosine_similarity": 0.999, "max_abs_error": 0.05}[primary.name]
            raise ValueError(f"task fidelity: give the worst fidelity you accept, e.g. budgets: {{worst: "
                             f"{{{primary.name}: {example}}}}}; fidelity is a floor (float32 itself is the most "
                             "faithful), and the fastest variant that meets it is recommended")
        return self

    @field_validator("name")
    @classmethod
    def _name_is_file_safe(cls, name: str) -> str:
        problem = _name_problem(name)
        if problem:
            shown = repr(name if len(name) <= 60 else name[:57] + "...")
            raise ValueError(f"name {shown} {problem}; use {_NAME_CHARS} (the name labels files and the "
                             "MLflow experiment)")
        return name

    @field_validator("search")
    @classmethod
    def _search_space_within_cap(cls, search: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        cap = info.data.get("max_variants", DEFAULT_MAX_VARIANTS)
        if search is not None and (count := _count_search_space(search)) > cap:
            raise ValueError(f"search.space: declares {count:,} candidates, more than max_variants ({cap}); "
                             "narrow the ranges or raise max_variants")
        return search

    @field_validator("variants", "matrix")
    @classmethod
    def _variants_within_cap(cls, value: Any, info: ValidationInfo) -> Any:
        cap = info.data.get("max_variants", DEFAULT_MAX_VARIANTS)
        if info.field_name == "variants":
            count, what = len(value), "lists"
        else:  # the matrix is counted from its axis lengths, not expanded
            count, what = len(info.data.get("variants", ())) + count_matrix(value or {}), "with the variants expands to"
        if count > cap:
            raise ValueError(f"{info.field_name}: {what} {count:,} variants, more than max_variants ({cap}); "
                             "shrink the list or the matrix axes, or raise max_variants")
        return value

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: tuple[VariantSpec, ...]) -> tuple[VariantSpec, ...]:
        names = [v.name for v in variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        return variants

    @field_validator("profiles")
    @classmethod
    def _profiles_are_target_overrides(cls, profiles: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        names = []
        for i, p in enumerate(profiles):
            name = p.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
                raise ValueError(f"profiles.{i}.name: give each profile a short name (letters, digits, _ or -)")
            names.append(name)
            try:
                TargetSpec(**{k: v for k, v in p.items() if k != "name"})  # unknown keys / bad values fail here
            except ValidationError as exc:
                raise ValueError(format_validation_error(f"profiles.{i} ({name})", exc)) from None
        if len(set(names)) != len(names):
            raise ValueError("profiles: names must be unique")
        return profiles

    @model_validator(mode="after")
    def _quantizer_modes_on_tflite_runtimes(self) -> ExperimentSpec:
        for v in (*self.resolved_variants(), *self.search_candidates()):
            info = RUNTIMES_INFO[self.target_for(v).runtime]
            if QUANT_MODE_INFO[v.quantization].tool == "quantizer" and info.made_from != "tflite":
                usable = ", ".join(r.name for r in RUNTIMES_INFO.values() if r.made_from == "tflite")
                raise ValueError(f"variant '{v.name}': quantization {v.quantization} is made by the LiteRT Quantizer "
                                 f"from the .tflite, but {info.display} runs a file exported from Keras; measure it "
                                 f"on {usable} (runtime: ...)")
        return self

    @model_validator(mode="after")
    def _profiling_fits_the_timeout(self) -> ExperimentSpec:
        """The least time profiling takes (``domains.least_profile_s``: warm-up and minimum runs at 1 µs per
        invoke, the minimum and load seconds, variant and float reference, every round and profile axis) must
        fit each variant's timeout, or every variant would time out after spending it."""
        axes = 1 + len(self.profiles)
        targets = [("target", self.target)] + [(f"profiles.{i} ({p['name']})", t)
                                                for i, (p, t) in enumerate(zip(self.profiles,
                                                                               self.profile_targets().values(),
                                                                               strict=True))]
        timeouts = [("variant_timeout_s", self.variant_timeout_s)] + [
            (f"variants.{i}.timeout_s", v.timeout_s) for i, v in enumerate(self.variants) if v.timeout_s is not None]
        least = sum(least_profile_s(t, self.rounds, 1) for _, t in targets)
        key, timeout = min(timeouts, key=lambda kv: kv[1])
        if least > timeout:
            worst = max(targets, key=lambda wt: least_profile_s(wt[1], self.rounds, 1))[0]
            raise ValueError(f"{key}: profiling alone takes at least {least:,.0f} s, over the timeout of {timeout:g} s "
                             f"(warm-up and minimum runs at 1 µs per invoke, min_seconds and load_seconds, for the "
                             f"variant and its float reference, {self.rounds} round(s), {axes} target(s)); lower "
                             f"{worst.split(' ')[0]}'s warmup_runs, min_runs, min_seconds or load_seconds, or raise {key}")
        return self

    def search_candidates(self) -> tuple[VariantSpec, ...]:
        """Every variant the search space declares (a seeded shuffle decides the trial order)."""
        if self.search is None:
            return ()
        out: list[VariantSpec] = []
        for i, entry in enumerate(self.search.space):
            entry = _one_chain_wrapped(entry)
            try:
                expanded = variants_from_matrix(entry, taken={x.name for x in out})
            except ValueError as exc:
                raise ValueError(f"search.space.{i}: {str(exc).removeprefix('matrix: ').removeprefix('matrix.')}") from None
            for v in expanded:
                out.append(v.model_copy(update={"calibration_samples": v.calibration_samples or self.calibration_samples,
                                                "timeout_s": v.timeout_s or self.variant_timeout_s}))
        return tuple(out)

    def target_for(self, variant: VariantSpec | None = None) -> TargetSpec:
        """The main target of ``variant``: the experiment's, on the variant's own runtime when it names one."""
        if variant is None or variant.runtime is None or variant.runtime == self.target.runtime:
            return self.target
        return TargetSpec(**{**self.target.model_dump(), "runtime": variant.runtime})

    def profile_targets(self, variant: VariantSpec | None = None) -> dict[str, TargetSpec]:
        """Extra profile axes as full targets (the variant's main target with each override applied)."""
        base = self.target_for(variant).model_dump()
        return {p["name"]: TargetSpec(**{**base, **{k: v for k, v in p.items() if k != "name"}}) for p in self.profiles}

    def resolved_variants(self) -> tuple[VariantSpec, ...]:
        """Explicit variants plus the matrix expansion, with experiment defaults filled in."""
        out = list(self.variants) + variants_from_matrix(self.matrix or {}, taken={v.name for v in self.variants})
        if not any(not v.steps and v.quantization == "float32" for v in out) and "baseline" not in {v.name for v in out}:
            out.insert(0, VariantSpec(name="baseline", quantization="float32"))  # the float reference run
        return tuple(
            v.model_copy(
                update={
                    "calibration_samples": v.calibration_samples or self.calibration_samples,
                    "timeout_s": v.timeout_s or self.variant_timeout_s,
                }
            )
            for v in out
        )

    def variant(self, name: str) -> VariantSpec:
        """The resolved variant called ``name``; SpecError naming the known ones otherwise."""
        for v in self.resolved_variants():
            if v.name == name:
                return v
        known = ", ".join(v.name for v in self.resolved_variants())
        raise SpecError(f"experiment '{self.name}' has no variant '{name}'; known variants: {known}")


def _name_problem(name: str) -> str:
    """What makes ``name`` unusable as a file name or MLflow experiment name ('' when nothing does)."""
    if not name:
        return "is empty"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        chars = f" ({len(name)} characters)" if size != len(name) else ""
        return (f"is {size} bytes long in UTF-8{chars}, over the limit of {MAX_NAME_BYTES} bytes (it names files, which "
                "hold 255 bytes)")
    if name != name.strip(" "):
        return "starts or ends with a space"
    if ".." in name:
        return "contains '..'"
    if name.startswith("."):
        return "starts with '.'"
    bad = re.search(r"[^\w .\-]", name)
    if bad:
        return f"contains {bad.group()!r} (at position {bad.start()})"
    return ""


def _one_chain_wrapped(entry: dict[str, Any]) -> dict[str, Any]:
    """A search-space entry whose ``steps`` is one chain written without the outer list, wrapped."""
    steps = entry.get("steps", [[]])
    if isinstance(steps, list) and steps and all(isinstance(st, dict) for st in steps):
        return {**entry, "steps": [steps]}
    return entry


def _count_search_space(search: SearchSpec) -> int:
    """Candidates the search space declares, counted from axis lengths; ValueError naming a malformed entry."""
    total = 0
    for i, entry in enumerate(search.space):
        try:
            total += count_matrix(_one_chain_wrapped(entry))
        except ValueError as exc:
            raise ValueError(f"search.space.{i}: {str(exc).removeprefix('matrix: ').removeprefix('matrix.')}") from None
    return total


def variants_from_matrix(matrix: dict[str, Any], taken: set[str]) -> list[VariantSpec]:
    """The matrix's combinations validated as VariantSpecs; ValueError (one line) on a bad one."""
    out = []
    for fields in expand_matrix(matrix, taken):
        try:
            out.append(VariantSpec.model_validate(fields))
        except ValidationError as exc:
            raise ValueError(format_validation_error(f"matrix ({fields['name']})", exc)) from None
    return out


def _field_names() -> set[str]:
    """Every field name of every spec (to tell a field named at the start of a message from other words)."""
    specs: list[type[BaseModel]] = [Spec, *STEP_SPECS]
    names: set[str] = set()
    while specs:
        cls = specs.pop()
        specs += cls.__subclasses__()
        names.update(getattr(cls, "model_fields", {}))
    return names


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line: source, dotted key path, message, the bad value; '(+N more)' when there are more."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-after")) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required key is missing"
    bad = first.get("input")
    shown = "" if first["type"] in ("missing", "value_error") or isinstance(bad, dict) else f" (got {bad!r})"
    if first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
        loc = loc if not msg.startswith(loc) else ""
        key = re.match(r"([A-Za-z_]\w*)((?:\.\w+)*): ", msg)  # a model-level check naming its field
        if loc and key and key.group(1) in _field_names():
            named = key.group(1) + key.group(2)
            loc = named if loc == "(top level)" else f"{loc}.{named}"
            msg = msg[key.end():]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {loc + ': ' if loc else ''}{msg}{shown}{more}"


