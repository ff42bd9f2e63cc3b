"""Ties in the recommendation: two candidates whose difference is inside the noise are not ranked by it.

Accuracy ties: each accuracy lies inside the other's Wilson interval (``accuracy_ci_low/high``). Latency
ties: on the same runtime, the speed-up intervals against float (measured side by side, over rounds)
overlap; across runtimes, or without speed-ups, the p50 intervals over rounds overlap. A row without
intervals (logged before rounds existed) ties only on equal values. A tie goes to the simpler deployment:
float I/O over int8 I/O (int8 I/O makes the application quantize its inputs and dequantize its outputs),
then fewer training-time steps, then the smaller file. Pure functions over metric rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from workbench.catalog.metrics import FIDELITY

_STEP = re.compile(r"^variant\.steps\.(\d+)\.technique$")


def _interval(row: dict[str, Any], name: str) -> tuple[float, float] | None:
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    return (float(lo), float(hi)) if isinstance(lo, int | float) and isinstance(hi, int | float) else None


def same_accuracy(a: dict[str, Any], b: dict[str, Any], name: str = "accuracy") -> bool:
    """Each value of metric ``name`` (accuracy by default) lies inside the other's interval (equal values
    without intervals: only accuracy has one, Wilson's)."""
    ia, ib = _interval(a, name), _interval(b, name)
    if ia is None or ib is None:
        return bool(a[name] == b[name])
    return ia[0] <= b[name] <= ia[1] and ib[0] <= a[name] <= ib[1]


def _overlap(x: tuple[float, float] | None, y: tuple[float, float] | None) -> bool | None:
    return None if x is None or y is None else x[0] <= y[1] and y[0] <= x[1]


def same_latency(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """No measurable latency difference: overlapping speed-up intervals on the same runtime, else overlapping
    p50 intervals over rounds, else equal p50s."""
    if a.get("runtime") == b.get("runtime"):
        by_ratio = _overlap(_interval(a, "speedup_vs_float"), _interval(b, "speedup_vs_float"))
        if by_ratio is not None:
            return by_ratio
    by_p50 = _overlap(_interval(a, "latency_ms_p50"), _interval(b, "latency_ms_p50"))
    return by_p50 if by_p50 is not None else a.get("latency_ms_p50") == b.get("latency_ms_p50")


def int8_io(row: dict[str, Any]) -> bool:
    """The variant's file takes and returns int8 (the application must quantize and dequantize)."""
    return (row.get("quantization") or row.get("params", {}).get("variant.quantization")) == "int8_io"


def training_steps(row: dict[str, Any]) -> int:
    """How many training-time steps made the variant (0 for post-training quantization only)."""
    if isinstance(row.get("steps"), int):
        return int(row["steps"])
    return sum(1 for k in row.get("params", {}) if _STEP.match(k))


def simplicity(row: dict[str, Any]) -> tuple[bool, int, float]:
    """Sort key, simplest first: float I/O, fewer training steps, smaller file."""
    return int8_io(row), training_steps(row), float(row.get("size_bytes", float("inf")))


def why_simpler(chosen: dict[str, Any], other: dict[str, Any]) -> str:
    """What makes ``chosen`` the simpler deployment than ``other``, in words."""
    if int8_io(other) and not int8_io(chosen):
        return "float I/O needs no integration step (int8 I/O makes the application quantize and dequantize)"
    if training_steps(chosen) < training_steps(other):
        return f"fewer training steps ({training_steps(chosen)} vs {training_steps(other)})"
    if float(chosen.get("size_bytes", 0)) < float(other.get("size_bytes", 0)):
        return "smaller file"
    return "equally simple: the lower p50 was taken, though the difference is within noise"


def choose(fits: Sequence[dict[str, Any]], primary: Any = None) -> dict[str, Any]:
    """The recommended row among candidates that meet every budget (non-empty): the best ``primary`` metric
    (a catalogue ``Metric``; accuracy by default) beyond noise (a fidelity metric: any value within the
    budgets), then the fastest beyond noise, then the simplest. A copy of the row; when others tied with it, ``tied_with`` lists them (best, then fastest
    first) and ``tie_reason`` says why it won."""
    name = primary.name if primary is not None else "accuracy"
    sign = -1.0 if primary is not None and primary.better == "min" else 1.0
    best = max(fits, key=lambda r: (sign * r[name], -r.get("latency_ms_p50", float("inf"))))
    # fidelity to the float model is a floor, not a goal (float32 is the most faithful): every candidate that met
    # its budget ties on it, and the fastest is taken
    floor = name in FIDELITY
    by_accuracy = list(fits) if floor else [r for r in fits if same_accuracy(r, best, name)]
    fastest = min(by_accuracy, key=lambda r: (r.get("latency_ms_p50", float("inf")), -sign * r[name]))
    tied = [r for r in by_accuracy if same_latency(r, fastest)]
    pick = min(tied, key=lambda r: (*simplicity(r), r.get("latency_ms_p50", float("inf"))))
    out = dict(pick)
    others = sorted((r for r in tied if r is not pick), key=lambda r: (-sign * r[name], r.get("latency_ms_p50", 0.0)))
    if others:
        out["tied_with"] = [{k: r.get(k) for k in ("variant", name, "latency_ms_p50", "size_bytes")}
                            for r in others]
        out["tie_reason"] = why_simpler(pick, others[0])
    return out
