"""An experiment's inputs, read once: the model file and the dataset fingerprinted, the plan made (or a
plan's fingerprints checked), the data checked against a user's model file (``fit.check_fit``), and the
experiment's cached float baseline. Used by a variant's context, the
sweep's and the search's planning, and the sensitivity view. Imports no TensorFlow (a baseline is trained
only when ``experiment_baseline`` finds no cache), nor LiteRT until a baseline is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.data import Dataset, import_function, load_dataset
from workbench.errors import DataError, ModelFileError, SpecError
from workbench.fit import check_classes, check_fit
from workbench.model_files import ModelFile, resolve_model, weight_bytes
from workbench.model_shapes import activation_values
from workbench.paths import project_root
from workbench.paths import resolve as resolve_path
from workbench.spec import ExperimentSpec, VariantSpec, load_experiment
from workbench.spec.fit import schedule_problem, size_problem
from workbench.spec.plan import Plan, make_plan

if TYPE_CHECKING:
    from workbench.baseline import Baseline


@dataclass(frozen=True)
class Inputs:
    """The plan (ids, roles, fingerprints) and the dataset it was made from (or checked against)."""

    plan: Plan
    dataset: Dataset


def read_inputs(spec: ExperimentSpec, root: Path, *, source: str = "<in-memory>",
                variants: Iterable[VariantSpec] | None = None, plan: Plan | None = None) -> Inputs:
    """Fingerprint the model file, load the dataset, and make the plan (``variants``: default every variant of
    ``spec``); with ``plan``, check its recorded fingerprints instead. ModelFileError / DataError (one line)
    before any training, the model file first."""
    model_file = resolve_model(spec.baseline.model, root)  # a missing or corrupt model file: refused here
    model_fp = "" if model_file is None else model_file.sha256
    if plan is not None and model_fp != plan.model_fingerprint:
        raise ModelFileError(f"model file '{spec.baseline.model}' changed since the sweep planned it (sha256 "
                             f"{plan.model_fingerprint[:12] or 'none'}, now {model_fp[:12]}); its numbers "
                             "would not match the plan: run the sweep again to re-plan")
    dataset = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, root, model_input_shape(model_file),
                           labels=spec.task.labels)
    for ref in spec.task.user_functions():  # a user metric that cannot be imported: refused here, before any cost
        import_function(ref, f"task metric '{ref}'", root, only_root=True)
    if model_file is not None:  # from the file's own config: data that cannot feed the model stops here
        check_fit(spec.baseline.model, model_file.signature, dataset)
    else:  # a zoo model gets one output per class: a stray label must not build a model of empty classes
        check_classes(spec.baseline.model, dataset)
    check_resources(spec, tuple(variants) if variants is not None else spec.resolved_variants(), dataset, root, source,
                    model_file)
    if plan is None:
        return Inputs(make_plan(spec, dataset.fingerprint, source, variants=variants, model_fingerprint=model_fp),
                      dataset)
    if dataset.fingerprint != plan.dataset_fingerprint:
        raise DataError(f"dataset '{spec.baseline.dataset}' changed since the sweep planned it (fingerprint "
                        f"{plan.dataset_fingerprint[:12]}, now {dataset.fingerprint[:12]}); its numbers would "
                        "not match the plan: run the sweep again to re-plan")
    return Inputs(plan, dataset)


def model_input_shape(model_file: ModelFile | None) -> tuple[int | None, ...] | None:
    """A single-input model file's input shape (without the batch axis), as its config says; None otherwise."""
    sig = None if model_file is None else model_file.signature
    return sig.inputs[0].shape if sig is not None and len(sig.inputs) == 1 else None


def check_resources(spec: ExperimentSpec, variants: tuple[VariantSpec, ...], dataset: Dataset, root: Path,
                    source: str = "<in-memory>", model_file: ModelFile | None = None) -> None:
    """SpecError (one line) before any training when a pruning schedule falls outside its fine-tuning, the
    baseline's estimated memory exceeds ``max_model_mb`` (``workbench.spec.fit``; a user's ``model_file``
    counts its weights and, from its config, its layers' outputs: ``workbench.model_shapes``), or a
    distillation's one-input student meets data with several inputs."""
    distilled = [v.name for v in variants if any(s.technique == "distill" for s in v.steps)]
    if dataset.input_names and distilled:
        raise SpecError(f"{source}: variants ({distilled[0]}).steps: distill trains a zoo student with one input, "
                        f"but the data gives several ({', '.join(dataset.input_names)}); drop the distill step")
    acts = None if model_file is None else activation_values(model_file.config, dataset.input_shape)
    problem = (schedule_problem(variants, len(dataset.x_train), spec.baseline.training.batch_size)
               or size_problem(spec, variants, dataset.input_shape,
                               dataset.num_classes if dataset.labels == "classes" else 1,
                               weight_bytes(spec.baseline.model, root), acts))
    if problem:
        raise SpecError(f"{source}: {problem}")


def work_dir_of(work_dir: str | Path, root: Path) -> Path:
    """``work_dir``, relative paths anchored at ``root``."""
    return Path(work_dir) if Path(work_dir).is_absolute() else (root / work_dir).resolve()


def plan_baseline(inputs: Inputs, work_dir: Path, root: Path) -> Baseline:
    """The plan's (cached) float baseline: trained and converted first when no intact cache exists."""
    from workbench.baseline import ensure_baseline

    return ensure_baseline(inputs.plan.experiment, inputs.dataset, work_dir, root, inputs.plan.model_fingerprint)


@dataclass(frozen=True)
class ExperimentBaseline:
    """An experiment, its data and its float baseline: what an analysis of the baseline alone reads."""

    experiment: ExperimentSpec
    dataset: Dataset
    baseline: Baseline

    def calibration_samples(self) -> np.ndarray:
        """The experiment's calibration draw (the one a variant without its own ``calibration_samples`` uses)."""
        return draw_calibration(self.dataset, self.experiment.calibration_samples,
                                self.experiment.baseline.training.seed)


def experiment_baseline(experiment: str | Path, work_dir: str | Path = ".workbench",
                        root: str | Path | None = None) -> ExperimentBaseline:
    """The experiment's (cached) float baseline with its data; relative paths resolve against ``root``
    (default: the project root, see ``workbench.paths``)."""
    root_p = Path(root).resolve() if root else project_root()
    spec = load_experiment(resolve_path(experiment, root_p))
    inputs = read_inputs(spec, root_p, variants=())
    return ExperimentBaseline(spec, inputs.dataset, plan_baseline(inputs, work_dir_of(work_dir, root_p), root_p))


def draw_calibration(dataset: Dataset, samples: int, seed: int) -> np.ndarray:
    """A seeded random draw of ``samples`` training samples (fewer when the split is smaller), in order."""
    n = min(samples, len(dataset.x_train))
    idx = np.random.default_rng(seed).choice(len(dataset.x_train), size=n, replace=False)
    return dataset.x_train[np.sort(idx)]
