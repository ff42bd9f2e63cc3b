"""Model-compression workbench: public API (what notebooks and users import).

Attributes load lazily so ``import workbench`` stays fast and TensorFlow-free until a function that
needs it is used (the CLI's ``profile`` and ``validate`` never import TensorFlow).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # specs
    "load_experiment": "workbench.spec", "parse_experiment": "workbench.spec", "variant_id": "workbench.spec",
    "ExperimentSpec": "workbench.spec", "VariantSpec": "workbench.spec", "TargetSpec": "workbench.spec",
    # one variant, one call per notebook cell
    "prepare_variant": "workbench.pipeline", "compress_variant": "workbench.pipeline", "convert_variant": "workbench.pipeline",
    "evaluate_variant": "workbench.pipeline", "profile_variant": "workbench.pipeline", "log_variant": "workbench.pipeline",
    "run_variant": "workbench.pipeline",
    # data, models, measurement
    "load_dataset": "workbench.data", "profile": "workbench.profile", "latency_stats": "workbench.profile",
    "TfliteModel": "workbench.tflite_model",
    # sweeps and reports
    "run_sweep": "workbench.run.sweep", "show_summary": "workbench.views.tables",
    "sensitivity_report": "workbench.views.sensitivity", "Explorer": "workbench.views.explorer",
    "WorkbenchError": "workbench.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute '{name}'")
