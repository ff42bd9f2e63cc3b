"""The explorer's figure as plotly draws it, checked on its data: every x metric on a log and a linear axis
(range, annotation and shape coordinates in plotly's units: a log axis takes log10 for annotations, data
values for shapes), latency in µs below 1 ms, a sensible empty chart for a new experiment, links after a run.
The store is replaced by points made here (no MLflow, no TensorFlow)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import write_experiment
from workbench.views.explorer import EMPTY_X, X_AXES, Explorer, Point, run_links, x_axis

BUDGETS = "budgets: {max_accuracy_drop: 1.0, max_size_kb: 100, max_latency_ms: 0.5, max_memory_mb: 40}\n"
SIZE, GZIP, LATENCY, MEMORY = (next(label for label, (key, _) in X_AXES.items() if key == k)
                                for k in ("size_bytes", "size_gzip_bytes", "latency_ms_p50", "memory_mb_peak"))


def _point(i: int, size_kb: float, p50_ms: float, acc: float = 0.97, origin: str = "sweep") -> Point:
    return Point(f"r{i}", f"v{i}", "ptq", origin, {
        "accuracy": acc, "accuracy_delta": -0.3, "latency_ms_p50": p50_ms, "size_bytes": size_kb * 1024,
        "size_gzip_bytes": size_kb * 800, "memory_mb_peak": 15.0 + i, "compression_ratio_gzip": 2.0})


POINTS = [_point(0, 283.4, 0.0058, 0.983), _point(1, 78.8, 0.0023), _point(2, 27.5, 0.0031, 0.95, "adhoc")]


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An Explorer over the given points (the store's reads replaced)."""
    write_experiment(tmp_path, extra=BUDGETS)

    def build(points: list[Point]) -> Explorer:
        monkeypatch.setattr(Explorer, "_logged", lambda self: list(points))
        monkeypatch.setattr(Explorer, "_tracker", lambda self: SimpleNamespace(uri=f"sqlite:///{tmp_path}/mlflow.db"))
        return Explorer("experiments/tiny.yaml", root=tmp_path)

    return build


def _xs(ex: Explorer) -> list[float]:
    return [x for trace in ex.figure.data for x in (trace.x or ())]


def _budget_note(ex: Explorer) -> Any:
    [note] = [a for a in ex.figure.layout.annotations if a.xref == "x"]
    return note


@pytest.mark.parametrize("log", [True, False], ids=["log", "linear"])
@pytest.mark.parametrize("label", list(X_AXES))
def test_every_x_metric_fits_its_points_on_both_scales(make: Any, label: str, log: bool) -> None:
    ex = make(POINTS)
    ex.x_axis.value, ex.log_x.value = label, log
    axis = ex.figure.layout.xaxis
    assert axis.type == ("log" if log else "linear")
    lo, hi = axis.range
    shown = [math.log10(x) for x in _xs(ex)] if log else _xs(ex)
    assert len(shown) == 3  # one per point (nothing highlighted)
    assert lo < min(shown) and max(shown) < hi  # every point inside, padded
    limits = [s.x0 for s in ex.figure.layout.shapes if s.xref == "x"]
    top = max([*_xs(ex), *limits])
    assert hi < (math.log10(top) + 0.5 if log else 1.2 * top)  # about the points and budget, not 10^100
    if label != GZIP:  # the axes with a budget: the line at the limit, its label where plotly reads the limit
        [shape] = [s for s in ex.figure.layout.shapes if s.xref == "x"]
        note = _budget_note(ex)
        assert note.x == pytest.approx(math.log10(shape.x0) if log else shape.x0)
        assert lo < note.x < hi


def test_size_axis_budget_is_at_100_kb_on_log_and_linear(make: Any) -> None:
    ex = make(POINTS)
    ex.x_axis.value = SIZE
    assert ex.log_x.value is True  # the default
    note, axis = _budget_note(ex), ex.figure.layout.xaxis
    assert note.x == pytest.approx(2.0) and note.text == "budget: 100 KB"  # log10(100): not 10^100
    assert axis.range[1] < math.log10(400) and sorted(_xs(ex)) == pytest.approx([27.5, 78.8, 283.4])
    assert axis.title.text == "size (KB) (log scale)"
    ex.log_x.value = False
    note, axis = _budget_note(ex), ex.figure.layout.xaxis
    assert note.x == 100 and axis.range[0] == 0.0 and 283.4 < axis.range[1] < 350


def test_latency_below_1_ms_is_drawn_in_microseconds(make: Any) -> None:
    ex = make(POINTS)
    ex.x_axis.value = LATENCY
    assert ex.figure.layout.xaxis.title.text == "latency p50 (µs) (log scale)"
    assert sorted(_xs(ex)) == pytest.approx([2.3, 3.1, 5.8])
    assert _budget_note(ex).text == "budget: 500 µs" and _budget_note(ex).x == pytest.approx(math.log10(500))
    assert "p50 5.80 µs" in ex.figure.data[0].text[0] and "283.4 KB" in ex.figure.data[0].text[0]
    slow = make([_point(0, 100, 1.5), _point(1, 50, 0.4)])
    slow.x_axis.value = LATENCY
    assert slow.figure.layout.xaxis.title.text.startswith("latency p50 (ms)") and sorted(_xs(slow)) == [0.4, 1.5]


def test_a_new_experiment_gets_a_readable_empty_chart_and_what_to_do(make: Any) -> None:
    ex = make([])
    assert list(ex.figure.layout.yaxis.range) == [0.0, 1.02]  # 0-100 %, not -100..400 %
    for label, unit in ((LATENCY, "ms"), (SIZE, "KB")):  # log axes: a default range per unit
        ex.x_axis.value = label
        lo, hi = ex.figure.layout.xaxis.range
        assert lo <= math.log10(EMPTY_X[unit][0]) and hi >= math.log10(EMPTY_X[unit][1]) and hi - lo < 7
    assert any("press <b>run</b>" in a.text for a in ex.figure.layout.annotations)
    assert "workbench run experiments/tiny.yaml" in ex.status.value and "make demo" not in ex.status.value
    ex.log_x.value = False
    assert ex.figure.layout.xaxis.range[0] == 0.0


def test_x_axis_without_points_or_budget() -> None:
    axis = x_axis(MEMORY, [], log=True)
    assert axis.range == pytest.approx((-0.24, 3.24)) and axis.unit == "MB"  # 1-1000 MB, padded
    assert x_axis(LATENCY, [], log=False).unit == "ms"


def test_links_to_the_run_and_its_tflite() -> None:
    links = run_links("http://127.0.0.1:5000/", "3", "abc", "file:///tmp/p/mlartifacts/3/abc/artifacts")
    assert links["run"] == "http://127.0.0.1:5000/#/experiments/3/runs/abc?workflowType=machine_learning"
    assert links["tflite"] == ("http://127.0.0.1:5000/#/experiments/3/runs/abc/artifacts/model/model.tflite"
                               "?workflowType=machine_learning")
    assert links["file"] == "/tmp/p/mlartifacts/3/abc/artifacts/model/model.tflite"
    assert "file" not in run_links("https://mlflow.example", "3", "abc", "s3://bucket/3/abc/artifacts")
