"""The catalogues: every metric a table, chart axis or Pareto objective uses is declared once in
``catalog/metrics.py``; the explorer's controls come from the step specs; the zoo is listed without TensorFlow."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from workbench.catalog import metrics as cm
from workbench.catalog.zoo import DATASETS, ZOO_MODELS, ZOO_NAMES

#: the design's metric table (docs/DESIGN.md "Metric names"): names run history depends on
DESIGN_METRICS = ("accuracy", "accuracy_delta", "agreement", "size_bytes", "size_gzip_bytes", "compression_ratio",
                  "compression_ratio_gzip", "sparsity", "latency_ms_p50", "latency_ms_p90", "latency_ms_p95",
                  "latency_ms_p99", "latency_ms_mean", "latency_ms_std", "latency_ms_min", "latency_runs", "init_ms",
                  "memory_mb_init", "memory_mb_peak", "throughput_ips", "speedup_vs_float")
#: prefixes of metric names; a string literal with one of them in a view must be a catalogue metric
METRIC_PREFIXES = ("latency_ms_", "memory_mb_", "size_", "compression_ratio", "speedup_", "throughput_")


def test_the_design_metrics_are_catalogued_under_their_logged_names() -> None:
    assert set(DESIGN_METRICS) <= set(cm.METRICS)
    assert all(m.name == name for name, m in cm.METRICS.items())
    assert all(m.better in ("max", "min", None) for m in cm.METRICS.values())


def test_latency_stats_log_only_catalogued_metrics() -> None:
    from workbench.profile.stats import LatencyStats

    stats = LatencyStats(10, 1.0, 1.1, 1.2, 1.3, 1.05, 0.1, 0.9, 1.4, 0.95, 0.98, 1.02, False)
    logged = {k for k in stats.metrics() if not k.endswith(("_ci_low", "_ci_high"))}  # intervals: not shown
    assert logged <= set(cm.METRICS), logged - set(cm.METRICS)


def test_every_table_axis_and_objective_uses_catalogued_metrics() -> None:
    from workbench.analysis.pareto import ACC_VS_LATENCY, ACC_VS_SIZE
    from workbench.views.explorer import X_AXES
    from workbench.views.tables import COLUMNS

    used = [*cm.CLI_TABLE, *cm.DASHBOARD_TABLE, *cm.RUNTIME_TABLE, *cm.NOTEBOOK_TABLE, *COLUMNS, *cm.EXPLORER_AXES,
            *cm.AXIS_METRICS, *(m for m, _ in ACC_VS_LATENCY + ACC_VS_SIZE), *(m for m, _ in X_AXES.values())]
    unknown = {c for c in used if c not in cm.METRICS and c not in cm.FIELDS}
    assert not unknown
    assert ACC_VS_LATENCY == (("accuracy", "max"), ("latency_ms_p50", "min"))  # directions from the catalogue
    assert ACC_VS_SIZE == (("accuracy", "max"), ("size_bytes", "min"))


@pytest.mark.parametrize("path", ["workbench/cli.py", *sorted(str(p.relative_to(REPO)) for p in
                                                              (REPO / "workbench" / "views").glob("*.py"))])
def test_no_view_names_a_metric_the_catalogue_does_not_know(path: str) -> None:
    """A metric-looking string literal in a view is a catalogue name (an axis suffix ``.<axis>`` aside)."""
    tree = ast.parse((REPO / path).read_text())
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    loose = {s for s in literals if s.startswith(METRIC_PREFIXES) and s.isidentifier() and s not in cm.METRICS}
    assert not loose, f"{path}: {sorted(loose)} not in workbench/catalog/metrics.py"


def test_cells_and_headings_come_from_the_record() -> None:
    assert cm.heading("latency_ms_p50") == "p50 ms" and cm.heading("latency_ms_p50", readable=True) == "p50"
    assert cm.heading("size_bytes") == "size KB" and cm.heading("variant") == "variant"
    assert cm.cell("size_bytes", 2048.0) == "2.0" and cm.cell("size_bytes", 2048.0, readable=True) == "2.0 KB"
    assert cm.cell("latency_ms_p50", 0.5, readable=True) == "500 µs" and cm.cell("latency_ms_p50", 0.5) == "0.5000"
    assert cm.cell("accuracy_delta", -0.25) == "-0.25" and cm.cell("accuracy", math.nan) == "-"
    assert cm.cell("accuracy", None) == "-" and cm.cell("status", "FAILED") == "FAILED"
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        cm.metric("nope")
    with pytest.raises(ValueError, match="no better direction"):
        cm.objectives("sparsity")


def test_budgets_named_by_metrics_exist() -> None:
    from workbench.spec import BudgetSpec

    assert {m.budget for m in cm.METRICS.values() if m.budget} <= set(BudgetSpec.model_fields)


# ------------------------------------------------------------------ techniques: the step specs are the home
def test_every_step_spec_is_in_the_explorer_with_knobs_its_spec_accepts() -> None:
    from workbench.spec import BaselineSpec
    from workbench.spec.steps import STEP_SPECS, TECHNIQUES
    from workbench.views.explorer import CHOICES

    baseline = BaselineSpec(model="digits_cnn", dataset="digits")
    assert TECHNIQUES == tuple(s.name() for s in STEP_SPECS) and len(set(TECHNIQUES)) == len(TECHNIQUES)
    for spec in STEP_SPECS:
        assert spec.name() in CHOICES and spec.__doc__
        defaults = {k.name: k.value(k.default) for k in spec.knobs()}
        for k in spec.knobs():  # the slider's whole range is valid for the spec
            for v in (k.low, k.high, k.default):
                spec.model_validate(spec.from_knobs({**defaults, k.name: k.value(v)}, baseline))


def test_a_knob_name_cannot_shadow_an_explorer_control(tmp_path: Path) -> None:
    from tests.conftest import write_experiment
    from workbench.views.explorer import ALL_KNOBS, Explorer

    write_experiment(tmp_path)
    ex = Explorer("experiments/tiny.yaml", root=tmp_path)
    for name in ALL_KNOBS:
        assert getattr(ex, name) is ex.knob_widgets[name] is ex.control(name), name


# ------------------------------------------------------------------ zoo
def test_the_zoo_catalogue_is_the_builders_and_the_datasets() -> None:
    tree = ast.parse((REPO / "workbench" / "models.py").read_text())
    zoo = next(n for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "ZOO")
    assert isinstance(zoo.value, ast.Dict)
    assert sorted(ast.literal_eval(k) for k in zoo.value.keys if k is not None) == sorted(ZOO_NAMES)
    from workbench.data import BUILTIN

    assert set(DATASETS) == set(BUILTIN)
    assert all(set(m.datasets[0].split()[:1]) <= set(DATASETS) for m in ZOO_MODELS.values())


def test_workbench_zoo_lists_the_catalogue_without_tensorflow() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom workbench.cli import main\n"
            "r = CliRunner().invoke(main, ['zoo'])\nprint(r.output)\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}).stdout
    assert out.rstrip().endswith("no TF")
    assert all(name in out for name in ZOO_NAMES) and "digits" in out
