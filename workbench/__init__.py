"""Model-compression workbench: the public API (what notebooks and users import).

Names load lazily so ``import workbench`` stays fast and TensorFlow-free until a function that needs it is
called (validating an experiment, planning a sweep and profiling a file never import TensorFlow). The
``TYPE_CHECKING`` imports below give editors and type checkers the real signatures of every name.
Subpackages (``workbench.spec``, ``workbench.profile``, ...) are modules, never shadowed by a function.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # specs and the plan (pure data)
    "load_experiment": "workbench.spec", "parse_experiment": "workbench.spec", "variant_id": "workbench.spec",
    "ExperimentSpec": "workbench.spec", "VariantSpec": "workbench.spec", "TargetSpec": "workbench.spec",
    "Plan": "workbench.spec.plan", "make_plan": "workbench.spec.plan",
    # one variant, one call per notebook cell
    "prepare_variant": "workbench.pipeline", "compress_variant": "workbench.pipeline",
    "convert_variant": "workbench.pipeline", "evaluate_variant": "workbench.pipeline",
    "profile_variant": "workbench.pipeline", "log_variant": "workbench.pipeline", "run_variant": "workbench.pipeline",
    # data and measurement
    "load_dataset": "workbench.data", "profile_model": "workbench.profile", "latency_stats": "workbench.profile",
    "TfliteModel": "workbench.tflite_model",
    # sweeps and views
    "run_sweep": "workbench.run.sweep", "plan_experiment": "workbench.run.sweep",
    "show_summary": "workbench.views.tables", "sensitivity_report": "workbench.views.sensitivity",
    "Explorer": "workbench.views.explorer",
    "WorkbenchError": "workbench.errors",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # real signatures for editors and mypy; at run time the names load on first use
    from workbench.data import load_dataset
    from workbench.errors import WorkbenchError
    from workbench.pipeline import (
        compress_variant,
        convert_variant,
        evaluate_variant,
        log_variant,
        prepare_variant,
        profile_variant,
        run_variant,
    )
    from workbench.profile import latency_stats, profile_model
    from workbench.run.sweep import plan_experiment, run_sweep
    from workbench.spec import (
        ExperimentSpec,
        TargetSpec,
        VariantSpec,
        load_experiment,
        parse_experiment,
        variant_id,
    )
    from workbench.spec.plan import Plan, make_plan
    from workbench.tflite_model import TfliteModel
    from workbench.views.explorer import Explorer
    from workbench.views.sensitivity import sensitivity_report
    from workbench.views.tables import show_summary


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'workbench' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
