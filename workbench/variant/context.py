"""A variant's context, from a sweep's plan or by hand: the plan and its variant, the data, the baseline,
the variant folder's files and the MLflow run. Every cell reads it; none writes into it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.baseline import Baseline
from workbench.data import Dataset
from workbench.errors import SpecError
from workbench.paths import project_root
from workbench.paths import resolve as resolve_path
from workbench.runtimes import baseline_file
from workbench.spec import ExperimentSpec, VariantSpec, format_validation_error, load_experiment
from workbench.spec.plan import Plan, PlannedVariant
from workbench.variant.artifacts import VariantFiles
from workbench.variant.inputs import Inputs, draw_calibration, plan_baseline, read_inputs, work_dir_of


@dataclass(frozen=True)
class VariantContext:
    """What every cell of one variant reads: the plan and its variant, the data, the baseline, the run."""

    plan: Plan
    planned: PlannedVariant
    dataset: Dataset
    baseline: Baseline
    work_dir: Path
    out_dir: Path
    root: Path
    tracker: Any = None
    experiment_id: str = ""
    run_id: str = ""
    owns_run: bool = False

    @property
    def experiment(self) -> ExperimentSpec:
        return self.plan.experiment

    @property
    def variant(self) -> VariantSpec:
        return self.planned.spec

    @property
    def variant_id(self) -> str:
        return self.planned.id

    @property
    def files(self) -> VariantFiles:
        """The variant folder's files, by name."""
        return VariantFiles(self.out_dir)

    def float_file(self, runtime: str) -> Path:
        """The float baseline's file for ``runtime`` (another format than .tflite is made once and cached)."""
        return baseline_file(self.baseline.dir, self.baseline.tflite_path, runtime, self.baseline.load_model)


def parse_variant_json(text: str) -> VariantSpec:
    """A variant spec given as JSON text (explorer, ad-hoc runs); SpecError on bad input."""
    from pydantic import ValidationError

    try:
        return VariantSpec.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SpecError(f"variant_json: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValidationError as exc:
        raise SpecError(format_validation_error("variant_json", exc)) from None


def _hand_inputs(experiment: str | Path | ExperimentSpec, variant: str | VariantSpec, root: Path) -> Inputs:
    """The plan of one variant run by hand (no sweep): the same resolution a sweep does."""
    if isinstance(experiment, ExperimentSpec):
        spec, source = experiment, "<in-memory>"
    else:
        spec, source = load_experiment(experiment), str(experiment)
    if isinstance(variant, str) and variant.lstrip().startswith("{"):
        variant = parse_variant_json(variant)
    chosen = variant if isinstance(variant, VariantSpec) else spec.variant(variant)
    return read_inputs(spec, root, source=source, variants=[chosen])


def _read_plan(plan: str | Path | Plan) -> Plan:
    if isinstance(plan, Plan):
        return plan
    try:
        text = Path(plan).read_text()
    except OSError as exc:
        raise SpecError(f"plan {plan}: cannot read ({exc.strerror})") from None
    return Plan.from_json(text, source=str(plan))


def prepare_variant(experiment: str | Path | ExperimentSpec = "", variant: str | VariantSpec = "", *,
                    plan: str | Path | Plan = "", variant_id: str = "", work_dir: str | Path = ".workbench",
                    run_id: str = "", parent_run_id: str = "", sweep_id: str = "", tracking_uri: str = "",
                    root: str | Path | None = None, track: bool = True) -> VariantContext:
    """Resolve the variant, load and check the data, get the (cached) baseline and attach the MLflow run.

    Under a sweep, ``plan`` + ``variant_id`` say exactly what to run; the dataset and a user's model file
    must still have the fingerprints the plan recorded (DataError / ModelFileError otherwise, before any
    training, without importing TensorFlow). By hand, ``experiment`` +
    ``variant`` (a name, a VariantSpec or its JSON) are planned here. With ``run_id`` (a sweep created the
    run, tags included) the run is only written to; without it a run is created here and ended by
    ``log_variant``. ``root`` anchors relative paths (experiment, work_dir, dataset files) and the embedded
    store: by default the sweep's working directory under a plan (papermill ``--cwd``), else the project
    root (``workbench.paths.project_root``), so a notebook whose kernel starts in ``notebooks/`` works.
    """
    root_p = Path(root).resolve() if root else (Path.cwd().resolve() if plan else project_root())
    if isinstance(experiment, str | Path) and str(experiment):
        experiment = resolve_path(experiment, root_p)
    if plan:
        the_plan = _read_plan(plan)
        planned = the_plan.variant(variant_id)
        inputs = read_inputs(the_plan.experiment, root_p, plan=the_plan)  # checked before any cost
    else:
        if not experiment or not variant:
            raise SpecError("prepare_variant: give plan + variant_id (a sweep), or experiment + variant (by hand)")
        inputs = _hand_inputs(experiment, variant, root_p)
        planned = inputs.plan.variants[0]
    the_plan, dataset, wdir = inputs.plan, inputs.dataset, work_dir_of(work_dir, root_p)
    baseline = plan_baseline(inputs, wdir, root_p)
    out_dir = wdir / "variants" / f"{planned.name}-{planned.id[:12]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not track:
        return VariantContext(the_plan, planned, dataset, baseline, wdir, out_dir, root_p)
    from workbench import tracking

    tracker = tracking.Tracker(tracking_uri or None, root_p)
    tracker.check()
    exp_id = tracker.experiment_id(the_plan.experiment.name)
    owns = not run_id
    if not owns:  # the sweep's run: once the sweep settles it (KILLED, ...), nothing more goes into it
        tracker.guard(run_id)
    if owns:
        tags = tracking.variant_run_tags(the_plan, planned, sweep_id)
        run_id = tracker.start_run(exp_id, tracking.variant_run_name(planned.name, sweep_id), tags,
                                   parent_run_id or None)
    tracker.log(run_id, params=tracking.variant_run_params(the_plan, planned))
    tracker.log_dataset(run_id, the_plan.experiment.baseline.dataset, the_plan.dataset_fingerprint)
    if planned.role == "baseline":  # the float model's own curves, once: not copied into every variant's charts
        tracker.log_history(run_id, baseline.history, prefix="baseline_")
    return VariantContext(the_plan, planned, dataset, baseline, wdir, out_dir, root_p, tracker, exp_id, run_id, owns)


def calibration_samples(ctx: VariantContext) -> np.ndarray:
    """A seeded random draw of ``calibration_samples`` training samples (recorded as a param)."""
    return draw_calibration(ctx.dataset, ctx.variant.calibration_samples or ctx.experiment.calibration_samples,
                            ctx.experiment.baseline.training.seed)
