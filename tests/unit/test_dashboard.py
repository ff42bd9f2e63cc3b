"""The dashboard as a manager reads it, checked on the figures' data: one colour per variant in every panel,
latency axes that keep small values readable, names that do not sit on each other, the recommended row and
the regressions marked."""

from __future__ import annotations

import datetime as dt

from workbench.analysis.recommend import decide
from workbench.spec import ExperimentSpec
from workbench.tracking import RunRecord, RunStatus
from workbench.views.dashboard import (
    PALETTE,
    figures,
    label_positions,
    latency_axis,
    render,
    variant_colours,
)


def _row(name: str, acc: float, p50: float, size: float, p95: float | None = None) -> dict:
    return {"variant": name, "variant_id": f"{name}-id", "technique": f"ptq:{name}", "status": "FINISHED",
            "reason": "", "run_id": f"run-{name}", "params": {}, "accuracy": acc, "accuracy_delta": (acc - 0.95) * 100,
            "latency_ms_p50": p50, "latency_ms_p5": p50 * 0.9, "latency_ms_p95": p95 or p50 * 1.2,
            "size_bytes": size, "memory_mb_peak": 10.0}


# int16x8's slow p95 is what flattened every other latency bar (issue 19: 6.27 ms against µs bars)
ROWS = [_row("float32", 0.95, 0.0049, 25_000.0), _row("int8", 0.955, 0.0037, 10_800.0),
        _row("dynamic", 0.952, 0.0023, 10_000.0), _row("int16x8", 0.951, 0.9, 12_000.0, p95=6.27)]
SPEC = ExperimentSpec.model_validate({
    "name": "mgr", "baseline": {"model": "digits_cnn", "dataset": "digits"}, "budgets": {"max_size_kb": 100},
    "variants": [{"name": "int8", "quantization": "int8"}],
    "profiles": [{"name": "nnapi", "xnnpack": False}]})
HISTORY = [RunRecord(run_id=f"h-{r['variant']}", experiment_id="1", name=r["variant"], status=RunStatus.FINISHED,
                     start_time=int(dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp() * 1000), end_time=None,
                     tags={"workbench.variant_id": r["variant_id"]}, params={},
                     metrics={"accuracy": r["accuracy"], "latency_ms_p50": r["latency_ms_p50"],
                              "size_bytes": r["size_bytes"]})
           for r in ROWS]


def _colours_by_variant(fig) -> dict[str, set[str]]:
    """variant -> every colour a figure draws it in (per-point colour arrays and per-trace colours alike)."""
    seen: dict[str, set[str]] = {}
    for t in fig.data:
        marker = getattr(t, "marker", None)
        colour = marker.color if marker is not None and marker.color is not None else t.line.color
        if t.type == "bar":
            for name, c in zip(t.x, colour if isinstance(colour, list | tuple) else [colour] * len(t.x), strict=True):
                seen.setdefault(name, set()).add(c)
        elif t.name and t.name != "Pareto front":
            seen.setdefault(t.name.removesuffix(" (dominated)"), set()).add(colour)
    return seen


def test_each_variant_has_one_colour_in_every_panel():
    rec = decide(ROWS, SPEC.budgets, "litert")
    colours = variant_colours(ROWS)
    figs = figures(SPEC, rec, HISTORY, colours)
    assert len(figs) == 5  # two trade-offs, the bars, the trends, the profile axes
    panels = [_colours_by_variant(f) for f in figs]
    for variant in ("float32", "int8", "dynamic", "int16x8"):
        drawn = set().union(*(p.get(variant, set()) for p in panels))
        assert drawn == {colours[f"{variant}-id"]}, (variant, drawn)
        assert sum(variant in p for p in panels) == 5  # it is in every panel
    assert len(set(colours.values())) == 4 and set(colours.values()) <= set(PALETTE)
    assert variant_colours(list(reversed(ROWS))) == colours  # by variant id, not by row order


def test_latency_axes_go_logarithmic_when_a_whisker_would_flatten_the_rest():
    rec = decide(ROWS, SPEC.budgets, "litert")
    bars = figures(SPEC, rec, HISTORY)[2]
    assert bars.layout.yaxis2.type == "log"  # the latency panel
    assert "log scale" in bars.layout.annotations[1].text
    ticks = list(bars.layout.yaxis2.ticktext)
    assert "2.00 µs" in ticks and "5.00 ms" in ticks  # the one unit rule: µs below 1 ms
    narrow = latency_axis([0.0023, 0.0037, 0.0049])
    assert narrow["type"] == "linear" and all(t.endswith("µs") for t in narrow["ticktext"])


def test_neighbours_names_go_above_and_below_not_on_each_other():
    # int8 and dynamic sit 0.8 KB apart on a 10-25 KB axis: the more accurate writes above, the other below
    where = label_positions([("int8", 10_800.0, 0.955), ("dynamic", 10_000.0, 0.952)],
                            [10_800.0, 10_000.0, 25_000.0])
    assert where == {"int8": "top center", "dynamic": "bottom center"}
    alone = label_positions([("a", 1.0, 0.9), ("b", 100.0, 0.91)], [1.0, 100.0], log_x=True)
    assert set(alone.values()) == {"top center"}
    # only the front and the recommended are named on the chart; the rest name themselves on hover
    rec = decide(ROWS, SPEC.budgets, "litert")
    latency = figures(SPEC, rec, HISTORY)[0]
    named = {t.name for t in latency.data if t.mode == "markers+text"}
    assert named == set(rec.front_latency) | {rec.variant}
    assert all(t.hovertext for t in latency.data if t.name != "Pareto front")


def test_the_recommended_row_and_the_regressions_are_marked():
    rec = decide(ROWS, SPEC.budgets, "litert")
    page = render(SPEC, "s1", ROWS, rec, HISTORY, regressions=[{"variant": "int8", "what": "accuracy down 4 points"}],
                  held="**1 regression: recommendation held.** The alias stays on `float32`.")
    assert page.count("id='recommended-row'") == 1
    row = page[page.index("id='recommended-row'"):].split("</tr>")[0]
    assert f">{rec.variant} <span class='badge'>recommended</span>" in row
    assert "id='regressions'" in page and "accuracy down 4 points" in page and "recommendation held" in page
    assert "This sweep alone would recommend" in page  # held: the page does not say "Recommended"
    clean = render(SPEC, "s1", ROWS, rec, HISTORY)
    assert "id='regressions'" not in clean and "Recommended: <b>" in clean
