"""Small, dependency-light views of results for notebooks (pandas tables)."""

from __future__ import annotations

from typing import Any

COLUMNS = ["variant", "technique", "accuracy", "accuracy_delta", "agreement", "size_bytes", "compression_ratio",
           "compression_ratio_gzip", "sparsity", "latency_ms_p50", "latency_ms_p95", "memory_mb_peak"]


def show_summary(summary: dict[str, Any]) -> Any:
    """One variant's headline metrics as a one-row DataFrame (renders as a table in Jupyter)."""
    import pandas as pd

    row = {k: summary.get(k) for k in COLUMNS}
    return pd.DataFrame([row]).set_index("variant")
