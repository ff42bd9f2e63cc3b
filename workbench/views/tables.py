"""Small, dependency-light views of results for notebooks (pandas tables)."""

from __future__ import annotations

from typing import Any

from workbench.catalog.metrics import NOTEBOOK_TABLE

COLUMNS = list(NOTEBOOK_TABLE)


def show_summary(summary: dict[str, Any]) -> Any:
    """One variant's headline metrics as a one-row DataFrame (renders as a table in Jupyter)."""
    import pandas as pd

    row = {k: summary.get(k) for k in COLUMNS}
    return pd.DataFrame([row]).set_index("variant")
