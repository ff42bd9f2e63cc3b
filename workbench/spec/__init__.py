"""What to compute, as frozen data: experiment files, variants, steps, matrix expansion, ids and the plan.

Pure: nothing here imports TensorFlow or MLflow, and creating a spec never touches files (``load`` reads
YAML; ``plan`` serialises the resolved sweep).
"""

from workbench.spec.experiment import (
    QUANT_MODES,
    RUNTIMES,
    BaselineSpec,
    BudgetSpec,
    ExperimentSpec,
    RegressionSpec,
    SearchSpec,
    TargetSpec,
    TrainingSpec,
    VariantSpec,
    format_validation_error,
)
from workbench.spec.ids import baseline_id, canonical_json, variant_id
from workbench.spec.load import load_experiment, parse_experiment
from workbench.spec.steps import TECHNIQUES, StepSpec
from workbench.spec.task import TaskSpec

__all__ = [
    "QUANT_MODES", "RUNTIMES", "TECHNIQUES", "BaselineSpec", "BudgetSpec", "ExperimentSpec", "RegressionSpec", "SearchSpec",
    "StepSpec", "TargetSpec", "TaskSpec", "TrainingSpec", "VariantSpec", "baseline_id", "canonical_json",
    "format_validation_error", "load_experiment", "parse_experiment", "variant_id",
]
