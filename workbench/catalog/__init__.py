"""Catalogues: what the workbench knows about a concept (runtimes, metrics, zoo models), declared once
(pure data, no TensorFlow, no I/O).

Everything else derives from these records: spec validation, CLI choices and help, display names, which
file a runtime runs, the prediction dispatch. See ``runtimes.py``.
"""

from workbench.catalog.runtimes import (
    RUNTIMES,
    RuntimeInfo,
    accelerators,
    display_name,
    runtime,
    runtime_names,
)

__all__ = ["RUNTIMES", "RuntimeInfo", "accelerators", "display_name", "runtime", "runtime_names"]
