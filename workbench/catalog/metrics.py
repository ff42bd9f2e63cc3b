"""Every metric the workbench logs, shows or ranks by, declared once: its MLflow name (history depends on
it: never rename one), unit, better direction, labels and format. Tables, chart axes and Pareto objectives
are lists of these names; their headings and cells come from here. Pure and TensorFlow-free.

A new visible metric: one ``Metric`` line in ``METRICS`` and its name in the table or axis list below that
should show it; the code that measures it logs it under that name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypedDict

Better = Literal["max", "min"] | None


def fmt_ms(ms: float) -> str:
    """A latency in the unit that reads best: ``2.03 µs``, ``412 µs``, ``1.24 ms``, ``2.10 s``."""
    if ms != ms:  # NaN
        return "-"
    us = ms * 1000.0
    if us < 1000.0:
        return f"{us:.2f} µs" if us < 10 else f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs"
    if ms < 1000.0:
        return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"
    return f"{ms / 1000.0:.2f} s"


def ms_axis_unit(values_ms: list[float]) -> tuple[float, str]:
    """(factor, unit) for an axis of latencies, by ``fmt_ms``'s rule: ``(1000, "µs")`` when every value is
    below 1 ms, else ``(1, "ms")``. The CLI tables, the dashboard and the explorer read latency the same way."""
    finite = [v for v in values_ms if v == v]
    return (1000.0, "µs") if finite and max(finite) < 1.0 else (1.0, "ms")


def fmt_bytes(size_bytes: float) -> str:
    """A file size in KB (1024 bytes) below 1 MB, else MB: ``27.6 KB``, ``13.4 MB``."""
    if size_bytes != size_bytes:
        return "-"
    kb = size_bytes / 1024.0
    return f"{kb:.1f} KB" if kb < 1024.0 else f"{kb / 1024.0:.2f} MB"


@dataclass(frozen=True)
class Metric:
    """One logged metric. ``scale`` turns the logged value into ``shown_unit`` (bytes shown as KB);
    ``spec`` formats it there; ``readable`` (when set) picks the unit per value (µs/ms, KB/MB)."""

    name: str
    unit: str  # the logged value's unit: "fraction", "pts", "bytes", "ms", "MB", "x", "1/s", "count", "dB",
    # "output" (the model output's own unit: a regression target's)
    better: Better
    label: str  # short, for table headings: "p50"
    title: str  # long, for chart axes: "latency p50 (ms)"
    spec: str = ".4g"
    scale: float = 1.0
    shown_unit: str = ""  # the unit after ``scale``, appended to the heading of fixed-format columns
    readable: Callable[[float], str] | None = None
    budget: str = ""  # the ``budgets:`` field that limits it (in ``shown_unit``), if any

    def heading(self, readable: bool = False) -> str:
        """``p50 ms`` for a fixed-format column; ``p50`` when each cell carries its own unit."""
        return self.label if (readable and self.readable) or not self.shown_unit else f"{self.label} {self.shown_unit}"

    def cell(self, value: Any, readable: bool = False) -> str:
        """The value as a table shows it; ``-`` when missing or NaN."""
        if value is None or (isinstance(value, float) and value != value):
            return "-"
        if not isinstance(value, int | float):
            return str(value)
        if readable and self.readable is not None:
            return self.readable(float(value))
        return format(value * self.scale, self.spec)


def _latency(stat: str, title: str) -> Metric:
    return Metric(f"latency_ms_{stat}", "ms", "min", stat, f"latency {title} (ms)", ".4f", shown_unit="ms",
                  readable=fmt_ms, budget="max_latency_ms" if stat == "p50" else "")


_ALL = (
    Metric("accuracy", "fraction", "max", "accuracy", "accuracy (top-1, test split)", ".4f"),
    Metric("accuracy_delta", "pts", "max", "Δ pts", "accuracy − float32 (percentage points)", "+.2f",
           budget="max_accuracy_drop"),
    Metric("agreement", "fraction", "max", "agreement", "top-1 agreement with float32", ".4f"),
    Metric("size_bytes", "bytes", "min", "size", "size (KB)", ".1f", 1 / 1024, "KB", fmt_bytes, "max_size_kb"),
    Metric("size_gzip_bytes", "bytes", "min", "gzip size", "gzip size (KB)", ".1f", 1 / 1024, "KB", fmt_bytes),
    Metric("compression_ratio", "x", "max", "ratio", "float32 size / size", ".2f"),
    Metric("compression_ratio_gzip", "x", "max", "gzip ratio", "float32 gzip size / gzip size", ".2f"),
    Metric("sparsity", "fraction", None, "sparsity", "fraction of zero weights", ".3f"),
    _latency("p50", "p50"), _latency("p90", "p90"), _latency("p95", "p95"), _latency("p99", "p99"),
    _latency("p5", "p5"), _latency("mean", "mean"), _latency("std", "std. deviation"), _latency("min", "min"),
    Metric("latency_runs", "count", None, "runs", "timed invocations", ".0f"),
    Metric("init_ms", "ms", "min", "init", "load + allocate (ms)", ".2f", shown_unit="ms", readable=fmt_ms),
    Metric("memory_mb_init", "MB", "min", "init MB", "memory after load + allocate (MB)", ".1f"),
    Metric("memory_mb_peak", "MB", "min", "peak MB", "peak memory (MB)", ".1f", budget="max_memory_mb"),
    Metric("memory_mb_inputs", "MB", None, "inputs MB", "the runner's input buffers, apart from the model (MB)", ".1f"),
    Metric("throughput_ips", "1/s", "max", "ips", "throughput (inferences/s)", ".1f"),
    Metric("speedup_vs_float", "x", "max", "speedup", "speed-up over float32 (p50 ratio)", ".2f"),
    # the noise behind those figures: intervals over interleaved rounds (latency) and over test samples (accuracy)
    Metric("speedup_vs_float_ci_low", "x", None, "speedup lo", "speed-up, 95% interval low (over rounds)", ".2f"),
    Metric("speedup_vs_float_ci_high", "x", None, "speedup hi", "speed-up, 95% interval high (over rounds)", ".2f"),
    Metric("float_latency_ms_p50", "ms", None, "float p50", "float32 p50 from the same rounds (ms)", ".4f",
           shown_unit="ms", readable=fmt_ms),
    Metric("latency_ms_p50_ci_low", "ms", None, "p50 lo", "p50, 95% interval low (over rounds, ms)", ".4f",
           shown_unit="ms", readable=fmt_ms),
    Metric("latency_ms_p50_ci_high", "ms", None, "p50 hi", "p50, 95% interval high (over rounds, ms)", ".4f",
           shown_unit="ms", readable=fmt_ms),
    Metric("latency_rounds", "count", None, "rounds", "interleaved rounds behind the latency", ".0f"),
    Metric("accuracy_ci_low", "fraction", None, "acc lo", "accuracy, 95% Wilson interval low", ".4f"),
    Metric("accuracy_ci_high", "fraction", None, "acc hi", "accuracy, 95% Wilson interval high", ".4f"),
    Metric("test_samples", "count", None, "n test", "test samples behind the accuracy", ".0f"),
    # task metrics (``task:`` in the experiment): classification logs ``accuracy`` (top-1) as always; the others
    # when the task asks for them, each with its change against the float model (``<name>_delta``)
    Metric("top5_accuracy", "fraction", "max", "top-5", "top-5 accuracy (test split)", ".4f"),
    Metric("top5_accuracy_delta", "pts", "max", "Δ top-5 pts", "top-5 accuracy − float32 (percentage points)", "+.2f"),
    Metric("mae", "output", "min", "MAE", "mean absolute error (test split)", ".4g"),
    Metric("mae_delta", "output", "min", "Δ MAE", "MAE − float32 MAE", "+.4g"),
    Metric("rmse", "output", "min", "RMSE", "root mean squared error (test split)", ".4g"),
    Metric("rmse_delta", "output", "min", "Δ RMSE", "RMSE − float32 RMSE", "+.4g"),
    # fidelity to the float model: the variant's outputs against the float reference's on the same inputs, no
    # labels (workbench.analysis.fidelity); several outputs: the worst here, each as ``<metric>/<output>``
    Metric("snr_db", "dB", "max", "SNR dB", "signal-to-noise ratio against float32 outputs (dB)", ".1f"),
    Metric("cosine_similarity", "fraction", "max", "cosine", "cosine similarity with float32 outputs", ".5f"),
    Metric("max_abs_error", "output", "min", "max err", "max absolute error against float32 outputs", ".4g"),
)
METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _ALL})
"""Metric name (as logged) -> its record."""

#: a row's identity fields (not metrics) -> table heading
FIELDS: Mapping[str, str] = MappingProxyType({
    "variant": "variant", "status": "status", "technique": "technique", "runtime": "runtime",
    "base_variant": "variant"})


class RowIdentity(TypedDict, total=False):
    """The identity keys of a result row. A row is a ``dict[str, Any]`` holding these plus metrics by their
    logged name (``accuracy``, ``latency_ms_p50``) and per-axis metrics as ``<metric>.<axis>``."""

    variant: str
    variant_id: str
    technique: str
    status: str  # FINISHED | FAILED | SKIPPED | ...
    reason: str
    run_id: str
    params: dict[str, str]
    runtime: str
    axes_status: dict[str, str]
    base_variant: str  # runtime pairs: the variant's own name
    axis: str  # runtime pairs: the profile axis ("" = the main target)


Row = dict[str, Any]

# --- what each view shows (names only; headings and formats come from METRICS) ---------------------------
CLI_TABLE = ("variant", "status", "accuracy", "accuracy_delta", "size_bytes", "compression_ratio",
             "compression_ratio_gzip", "latency_ms_p50", "latency_ms_p95", "memory_mb_peak")
DASHBOARD_TABLE = ("variant", "status", "technique", "accuracy", "accuracy_delta", "size_bytes",
                   "compression_ratio_gzip", "latency_ms_p50", "latency_ms_p95", "memory_mb_peak", "speedup_vs_float")
RUNTIME_TABLE = ("base_variant", "runtime", "accuracy", "agreement", "snr_db", "latency_ms_p50", "latency_ms_p95",
                 "memory_mb_peak", "speedup_vs_float", "size_bytes")
NOTEBOOK_TABLE = ("variant", "technique", "accuracy", "accuracy_delta", "agreement", "snr_db", "size_bytes",
                  "compression_ratio", "compression_ratio_gzip", "sparsity", "latency_ms_p50", "latency_ms_p95",
                  "memory_mb_peak")
#: the MLflow runs table's visible columns in the view a sweep saves (the first is the primary metric), and the
#: x axes its chart view plots that metric against
MLFLOW_RUNS_TABLE = ("accuracy", "accuracy_delta", "size_bytes", "compression_ratio", "latency_ms_p50",
                     "speedup_vs_float")
MLFLOW_RUNS_AXES = ("latency_ms_p50", "size_bytes")
EXPLORER_AXES = ("latency_ms_p50", "size_bytes", "size_gzip_bytes", "memory_mb_peak")
#: the metrics a profile axis logs again as ``<metric>.<axis>`` (one set per runtime)
AXIS_METRICS = ("accuracy", "accuracy_delta", "agreement", "size_bytes", "latency_ms_p50", "latency_ms_p95",
                "latency_ms_p5", "memory_mb_peak", "init_ms", "speedup_vs_float", "accuracy_ci_low",
                "accuracy_ci_high", "test_samples", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high",
                "speedup_vs_float_ci_low", "speedup_vs_float_ci_high", "float_latency_ms_p50", "snr_db",
                "cosine_similarity", "max_abs_error")


#: the metrics that measure a variant's outputs against the float model's (no labels: ``analysis.fidelity``)
FIDELITY = ("snr_db", "cosine_similarity", "max_abs_error")
#: a task's built-in metric (as the experiment's ``task:`` names it) -> the metric it logs
TASK_METRICS: Mapping[str, str] = MappingProxyType({"top1": "accuracy", "top5": "top5_accuracy", "mae": "mae",
                                                    "rmse": "rmse", **{m: m for m in FIDELITY}})
#: the labels each built-in task metric scores against: class indices, values in the output's unit, or none
#: (fidelity: the float model's outputs)
TASK_LABELS: Mapping[str, str] = MappingProxyType({"top1": "classes", "top5": "classes", "mae": "values",
                                                   "rmse": "values", **{m: "none" for m in FIDELITY}})
#: a fidelity primary has no change against float (it is one): tables show another fidelity metric beside it
FIDELITY_BESIDE = MappingProxyType({"snr_db": "max_abs_error", "cosine_similarity": "snr_db",
                                    "max_abs_error": "snr_db"})


def delta_name(name: str) -> str:
    """The metric that logs ``name``'s change against the float model: ``mae`` -> ``mae_delta``; per output
    ``mae/age`` -> ``mae_delta/age``."""
    base, slash, output = name.partition("/")
    return f"{base}_delta{slash}{output}"


def delta(m: Metric, value: float, float_value: float) -> float:
    """``m``'s change against float: in percentage points for a fraction (accuracy), else in its own unit."""
    return (value - float_value) * (100.0 if m.unit == "fraction" else 1.0)


def worsening(m: Metric, delta_value: float) -> float:
    """How much worse than float a delta of ``m`` says the variant is (positive = worse), by its better
    direction: an accuracy delta of -1.5 pts is 1.5; an MAE delta of +0.2 is 0.2."""
    return -delta_value if m.better == "max" else delta_value


def user_metric(name: str, better: Literal["max", "min"], unit: str = "") -> Metric:
    """The record of a user's task metric (``task.metric: {function, name, better, unit}``)."""
    return Metric(name, unit or "output", better, name, f"{name} (user metric, test split)")


def metric(name: str) -> Metric:
    """The record of ``name`` (a per-output ``<metric>/<output>`` is its metric's record); KeyError naming the
    known metrics."""
    try:
        return METRICS[name.partition("/")[0]]
    except KeyError:
        raise KeyError(f"unknown metric '{name}'; known: {', '.join(METRICS)}") from None


def objectives(*names: str) -> tuple[tuple[str, str], ...]:
    """Pareto objectives ``(metric, "max" | "min")`` from the metrics' better directions."""
    out = []
    for n in names:
        better = metric(n).better
        if better is None:
            raise ValueError(f"metric '{n}' has no better direction: it cannot be a Pareto objective")
        out.append((n, better))
    return tuple(out)


def delta_record(m: Metric) -> Metric:
    """The record of ``m``'s change against float (``accuracy_delta``, ``mae_delta``; a user metric's made here)."""
    try:
        return metric(delta_name(m.name))
    except KeyError:
        return Metric(delta_name(m.name), m.unit, m.better, f"Δ {m.label}", f"{m.title} − float32", "+.4g")


def record(name: str, primary: Metric | None = None) -> Metric:
    """The record of ``name``: the task's ``primary`` metric or its delta (a user metric's too), else the
    catalogue's."""
    if primary is not None and name == primary.name:
        return primary
    if primary is not None and name == delta_name(primary.name):
        return delta_record(primary)
    return metric(name)


def task_columns(columns: tuple[str, ...], primary: Metric) -> tuple[str, ...]:
    """A table's columns with accuracy and its delta replaced by the task's primary metric and its delta (a
    fidelity primary: another fidelity metric, ``FIDELITY_BESIDE``; a column shown twice is kept once)."""
    swap = {"accuracy": primary.name, "accuracy_delta": FIDELITY_BESIDE.get(primary.name, delta_name(primary.name))}
    return columns if primary.name == "accuracy" else tuple(dict.fromkeys(swap.get(c, c) for c in columns))


def heading(name: str, readable: bool = False, primary: Metric | None = None) -> str:
    """A column's heading: the identity field's or the metric's (``primary``: the task's, see ``record``)."""
    return FIELDS[name] if name in FIELDS else record(name, primary).heading(readable)


def cell(name: str, value: Any, readable: bool = False, primary: Metric | None = None) -> str:
    """A column's cell text for ``value`` (identity fields as text)."""
    if name in FIELDS:
        return "-" if value is None else str(value)
    return record(name, primary).cell(value, readable)
