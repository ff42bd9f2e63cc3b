"""The sweep dashboard, rendered: plotly figures and tables from a sweep's rows and its ``Recommendation``,
as one standalone HTML page (text; ``workbench.run.settle`` writes and logs it). The page opens offline:
plotly.js's basic bundle (vendored in assets/) travels inside it gzip-compressed (base64) and the browser
inflates it (``DecompressionStream``), so a dashboard weighs about 0.6 MB instead of 4.9 MB.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import math
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from workbench.analysis.pareto import budget_violations, runtime_payoff
from workbench.analysis.recommend import Recommendation
from workbench.catalog.metrics import (
    DASHBOARD_TABLE,
    FIDELITY,
    FIELDS,
    RUNTIME_TABLE,
    Metric,
    cell,
    delta_record,
    fmt_bytes,
    fmt_ms,
    heading,
    task_columns,
)
from workbench.spec import ExperimentSpec
from workbench.tracking import TAG_VARIANT, RunRecord
from workbench.views.summary import plain

#: one colour per variant, the same in every panel and the table: assigned in the order of the variant ids
#: (a variant keeps its colour from one night to the next while the experiment's variants stay the same)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#393b79", "#637939")
PATTERNS = ("", "/", "x", ".", "+", "-", "|", "\\")  # a runtime or a profile axis, when colour is the variant's
WIDE = 5.0  # a latency axis turns logarithmic when its values span more than this factor


def _key(r: dict[str, Any]) -> str:
    return str(r.get("variant_id") or r.get("base_variant") or r["variant"])


def variant_colours(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Variant id -> its colour (``PALETTE``, in the order of the ids; cycling past 12 variants)."""
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted({_key(r) for r in rows}))}


def _quality(r: dict[str, Any], primary: Metric) -> str:
    """``accuracy 0.9500 (-0.28 pts)`` / ``mae 0.412 (+0.003)``: the primary metric and its change against float."""
    if primary.name == "accuracy":
        return f"accuracy {r['accuracy']:.4f} ({r.get('accuracy_delta', 0):+.2f} pts)"
    if primary.name in FIDELITY:  # measured against float32 already
        return f"{primary.label} {primary.cell(r[primary.name])} against float32"
    d = delta_record(primary)
    return f"{primary.label} {primary.cell(r[primary.name])} ({d.cell(r.get(d.name))} against float32)"


def _hover(r: dict[str, Any], primary: Metric) -> str:
    steps = {k: v for k, v in r["params"].items() if k.startswith("variant.") and k != "variant.name"}
    spec = "<br>".join(f"{k[8:]}={v}" for k, v in sorted(steps.items())[:12])
    return (f"<b>{html.escape(r['variant'])}</b> ({html.escape(r['technique'])})<br>{html.escape(_quality(r, primary))}"
            f"<br>p50 {fmt_ms(r.get('latency_ms_p50', float('nan')))}, "
            f"{fmt_bytes(r.get('size_bytes', float('nan')))}<br>{spec}")


def _nice(step: float) -> float:
    base = 10 ** math.floor(math.log10(step))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= step)


def latency_axis(values_ms: Sequence[float]) -> dict[str, Any]:
    """A latency axis (values in ms) whose ticks read in the one unit rule (``fmt_ms``: µs below 1 ms):
    logarithmic with 1-2-5 ticks when the values span more than ``WIDE``, so a slow variant's whisker does not
    flatten the fast ones; linear otherwise."""
    vals = [v for v in values_ms if isinstance(v, float) and v == v and v > 0]
    if not vals:
        return {}
    lo, hi = min(vals), max(vals)
    if hi / lo > WIDE:
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in (1, 2, 5) if lo / 1.5 <= m * 10.0 ** e <= hi * 1.5]
        return {"type": "log", "tickvals": ticks, "ticktext": [fmt_ms(t) for t in ticks]}
    step = _nice(hi / 5)
    ticks = [i * step for i in range(int(hi * 1.15 / step) + 1)]
    return {"type": "linear", "range": [0, hi * 1.15], "tickvals": ticks, "ticktext": [fmt_ms(t) for t in ticks]}


def label_positions(points: Sequence[tuple[str, float, float]], xs: Sequence[float],
                    log_x: bool = False) -> dict[str, str]:
    """Where each labelled point (name, x, accuracy) writes its name so that neighbours' names do not collide:
    among points closer than a fifth of the chart's x span (``xs``: every plotted x), the most accurate writes
    above, the least accurate below, the ones between to the right and left in turn; a lone point writes above."""
    def pos(v: float) -> float:
        return math.log10(v) if log_x and v > 0 else v

    xs = [pos(x) for x in xs]
    near = (max(xs) - min(xs)) / 5 if len(xs) > 1 else 0.0
    out = {}
    for name, x, _ in points:
        group = sorted((a, n) for n, xx, a in points if abs(pos(xx) - pos(x)) <= near)
        rank = [n for _, n in group].index(name)
        if len(group) == 1 or rank == len(group) - 1:
            out[name] = "top center"
        elif rank == 0:
            out[name] = "bottom center"
        else:
            out[name] = "middle right" if rank % 2 else "middle left"
    return out


def tradeoff_figure(rows: Sequence[dict[str, Any]], x: str, front_names: Sequence[str], spec: ExperimentSpec,
                    title: str, colours: dict[str, str], chosen: str | None = None) -> Any:
    """The task's primary metric (accuracy) against ``x`` (latency p50 or size): one trace per variant in its colour (filled on the front
    ``front_names``, open when dominated, a star for ``chosen``), the front joined, budgets as lines. Names are
    written beside the front's points only (alternately above and below); every point names itself on hover."""
    import plotly.graph_objects as go

    primary = spec.task.primary_metric()
    y = primary.name
    k = 1 / 1024 if x == "size_bytes" else 1.0  # latency stays in ms: its ticks carry the unit
    pts = [r for r in rows if isinstance(r.get(y), float) and isinstance(r.get(x), float)]
    front = set(front_names)
    b = spec.budgets
    xaxis: dict[str, Any] = {"title": "size (KB)"}
    if x == "latency_ms_p50":
        xaxis = latency_axis([r[x] for r in pts] + ([b.max_latency_ms] if b.max_latency_ms else []))
        xaxis["title"] = "latency p50" + (" (log scale)" if xaxis.get("type") == "log" else "")
    where = label_positions([(r["variant"], r[x], r[y]) for r in pts
                             if r["variant"] in front or r["variant"] == chosen], [r[x] for r in pts],
                            xaxis.get("type") == "log")
    fig = go.Figure()
    line = sorted((r for r in pts if r["variant"] in front), key=lambda r: r[x])
    fig.add_trace(go.Scatter(x=[r[x] * k for r in line], y=[r[y] for r in line], mode="lines",
                             line={"color": "#999", "dash": "dot"}, name="Pareto front", hoverinfo="skip"))
    for r in pts:
        star, on = r["variant"] == chosen, r["variant"] in front
        fig.add_trace(go.Scatter(
            x=[r[x] * k], y=[r[y]], mode="markers+text" if r["variant"] in where else "markers",
            text=[r["variant"] + (" (recommended)" if star else "")], textposition=where.get(r["variant"], "top center"),
            hovertext=[_hover(r, primary)], hoverinfo="text", name=r["variant"] + ("" if on else " (dominated)"),
            cliponaxis=False,
            legendgroup=_key(r), marker={"size": 17 if star else 12 if on else 9, "color": colours[_key(r)],
                                         "symbol": "star" if star else "circle" if on else "circle-open",
                                         "line": {"width": 2, "color": colours[_key(r)]}}))
    base_acc = next((r["accuracy"] - r.get("accuracy_delta", 0) / 100 for r in pts), None) if y == "accuracy" else None
    if b.max_accuracy_drop is not None and base_acc is not None:
        fig.add_hline(y=base_acc - b.max_accuracy_drop / 100, line_dash="dash", line_color="red",
                      annotation_text=f"max_accuracy_drop {b.max_accuracy_drop:g} pts")
    limit = b.max_latency_ms if x == "latency_ms_p50" else b.max_size_kb if x == "size_bytes" else None
    if limit is not None:
        fig.add_vline(x=limit, line_dash="dash", line_color="red",
                      annotation_text="max_latency_ms" if x == "latency_ms_p50" else "max_size_kb")
    fig.update_layout(title=title, xaxis=xaxis, yaxis_title=primary.title, height=480,
                      template="plotly_white")
    return fig


def bars_figure(rows: list[dict[str, Any]], colours: dict[str, str]) -> Any:
    """Size, latency p50 (whiskers p5-p95; a log axis when they span more than ``WIDE``) and peak memory,
    each bar in its variant's colour."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = [r for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    names, colour = [r["variant"] for r in ok], [colours[_key(r)] for r in ok]
    p50 = [r["latency_ms_p50"] for r in ok]
    high = [r.get("latency_ms_p95", v) for r, v in zip(ok, p50, strict=True)]
    low = [r.get("latency_ms_p5", v) for r, v in zip(ok, p50, strict=True)]
    axis = latency_axis(p50 + high + low)
    log = " (log scale)" if axis.get("type") == "log" else ""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("size (KB)", f"latency p50, whiskers p5-p95{log}",
                                                        "peak memory (MB above runner baseline)"))
    fig.add_trace(go.Bar(x=names, y=[r["size_bytes"] / 1024 for r in ok], name="size", marker_color=colour), 1, 1)
    fig.add_trace(go.Bar(x=names, y=p50, name="p50", marker_color=colour, hovertext=[fmt_ms(v) for v in p50],
                         error_y={"type": "data", "symmetric": False,
                                  "array": [h - v for h, v in zip(high, p50, strict=True)],
                                  "arrayminus": [v - lo for lo, v in zip(low, p50, strict=True)]}), 1, 2)
    fig.add_trace(go.Bar(x=names, y=[r.get("memory_mb_peak", 0) for r in ok], name="peak memory",
                         marker_color=colour), 1, 3)
    fig.update_yaxes(**axis, row=1, col=2)
    fig.update_layout(height=420, showlegend=False, template="plotly_white")
    return fig


def trends_figure(history: Sequence[RunRecord], rows: Sequence[dict[str, Any]], colours: dict[str, str]) -> Any:
    """Each variant id's metrics across ``history`` (its FINISHED sweep runs in this experiment: nightly drift)."""
    import datetime as dt

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=("accuracy", "latency p50", "size (KB)"))
    latencies: list[float] = []
    for r in rows:
        runs = sorted((h for h in history if h.tags.get(TAG_VARIANT) == r["variant_id"]),
                      key=lambda h: h.start_time)
        if not runs:
            continue
        when = [dt.datetime.fromtimestamp(h.start_time / 1000, dt.UTC) for h in runs]
        latencies += [h.metrics.get("latency_ms_p50", float("nan")) for h in runs]
        for col, (metric, f) in enumerate((("accuracy", 1.0), ("latency_ms_p50", 1.0), ("size_bytes", 1 / 1024)), 1):
            fig.add_trace(go.Scatter(x=when, y=[h.metrics.get(metric, float("nan")) * f for h in runs],
                                     mode="lines+markers", name=r["variant"], legendgroup=_key(r),
                                     line={"color": colours[_key(r)]}, showlegend=col == 1), 1, col)
    fig.update_yaxes(**latency_axis(latencies), row=1, col=2)
    fig.update_layout(height=380, template="plotly_white")
    return fig


def axes_figure(rows: list[dict[str, Any]], spec: ExperimentSpec, colours: dict[str, str]) -> Any | None:
    """Latency p50 of each variant under the main target and each extra profile axis (bars in the variant's
    colour, one hatching per axis)."""
    if not spec.profiles:
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    ok = [r for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    colour = [colours[_key(r)] for r in ok]
    series = [("main target", [r["latency_ms_p50"] for r in ok])] + [
        (p["name"], [r.get(f"latency_ms_p50.{p['name']}", float("nan")) for r in ok]) for p in spec.profiles]
    for i, (name, ys) in enumerate(series):
        fig.add_trace(go.Bar(name=name, x=[r["variant"] for r in ok], y=ys, marker={
            "color": colour, "pattern": {"shape": PATTERNS[i % len(PATTERNS)]}}))
    fig.update_layout(barmode="group", title="latency p50 by runtime option (profile axes)", height=420,
                      template="plotly_white", yaxis=latency_axis([v for _, ys in series for v in ys]))
    return fig


def runtimes_figure(pairs: list[dict[str, Any]], colours: dict[str, str]) -> Any:
    """Latency p50 and peak memory of each variant on each runtime, side by side (the variant's colour, one
    hatching per runtime)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("latency p50", "peak memory (MB above runner baseline)"))
    latencies: list[float] = []
    for i, runtime in enumerate(dict.fromkeys(p["runtime"] for p in pairs)):
        sel = [p for p in pairs if p["runtime"] == runtime and isinstance(p.get("latency_ms_p50"), float)]
        names, marker = [p["base_variant"] for p in sel], {
            "color": [colours[_key(p)] for p in sel], "pattern": {"shape": PATTERNS[i % len(PATTERNS)]}}
        latencies += [p["latency_ms_p50"] for p in sel]
        fig.add_trace(go.Bar(name=runtime, x=names, y=[p["latency_ms_p50"] for p in sel], legendgroup=runtime,
                             marker=marker), 1, 1)
        fig.add_trace(go.Bar(name=runtime, x=names, y=[p.get("memory_mb_peak", float("nan")) for p in sel],
                             legendgroup=runtime, showlegend=False, marker=marker), 1, 2)
    fig.update_yaxes(**latency_axis(latencies), row=1, col=1)
    fig.update_layout(barmode="group", title="variant × runtime", height=420, template="plotly_white")
    return fig


def runtimes_section(pairs: list[dict[str, Any]], primary: Metric) -> str:
    """The variant × runtime table (the task's ``primary`` metric where accuracy stands), and the variants that
    pay off on one runtime and not another."""
    columns = task_columns(RUNTIME_TABLE, primary)
    head = "".join(f"<th onclick='sortTable(this)'>{heading(c, primary=primary)}</th>" for c in columns)
    head += "<th>status</th>"
    body = ["<tr>" + "".join(f"<td>{html.escape(cell(c, p.get(c), primary=primary))}</td>" for c in columns)
            + f"<td>{html.escape('FAILED: ' + p.get('reason', '') if p.get('status') == 'FAILED' else 'measured')}</td></tr>"
            for p in pairs]
    payoff = runtime_payoff(pairs)
    notes = ("<ul id='runtime-payoff'>" + "".join(f"<li>{html.escape(n)}</li>" for n in payoff) + "</ul>") if payoff else ""
    return (f"<h2>Variant × runtime</h2>{notes}<table id='runtimes'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _table(rows: list[dict[str, Any]], front: set[str], spec: ExperimentSpec, colours: dict[str, str],
           chosen: str | None = None, regressed: dict[str, list[str]] | None = None) -> str:
    """Every variant, sortable: a swatch of its chart colour, the recommended row marked, a regressed row flagged."""
    primary = spec.task.primary_metric()
    columns = task_columns(DASHBOARD_TABLE, primary)  # the task's primary metric where accuracy stands
    head = ("".join(f"<th onclick='sortTable(this)'>{heading(c, True, primary)}</th>" for c in columns)
            + "<th>Pareto</th><th>budgets</th>")
    body = []
    for r in rows:
        cells = []
        for c in columns:  # numbers read in their unit (µs/ms, KB/MB), sorted by the raw value
            v = r.get(c)
            raw = f" data-v='{float(v)!r}'" if c not in FIELDS and isinstance(v, int | float) and v == v else ""
            text = html.escape(cell(c, v, True, primary))
            if c == "variant":
                swatch = f"<span class='sw' style='background:{colours.get(_key(r), '#fff')}'></span>"
                badges = ("<span class='badge'>recommended</span>" if r["variant"] == chosen else "") + "".join(
                    f"<span class='badge bad' title='{html.escape(w)}'>regression</span>"
                    for w in (regressed or {}).get(r["variant"], [])[:1])
                text = f"{swatch}{text} {badges}"
            cells.append(f"<td{raw}>{text}</td>")
        fails = budget_violations(r, spec.budgets, primary) if primary.name in r else ["not measured"]
        cells.append(f"<td>{'yes' if r['variant'] in front else ''}</td>")
        cells.append(f"<td>{html.escape('; '.join(fails)) if fails else 'all met'}</td>")
        mark = " class='recommended' id='recommended-row'" if r["variant"] == chosen else ""
        body.append(f"<tr{mark}>" + "".join(cells) + "</tr>")
    return f"<table id='variants'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


SORT_JS = """<script>
function sortTable(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),
b=t.tBodies[0],asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
const v=r=>{const c=r.children[i],s=c.dataset.v??c.innerText;const n=parseFloat(s);return isNaN(n)?s:n;};
[...b.rows].sort((x,y)=>{const a=v(x),c=v(y);return (a>c?1:a<c?-1:0)*(asc?1:-1);}).forEach(r=>b.appendChild(r));}
</script>"""
STYLE = ("<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;"
         "font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{cursor:pointer;"
         "background:#f4f4f4}td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}.rec{background:#eef7ee;"
         "padding:12px;border-left:4px solid #2a2;margin:8px 0}.none{background:#fdf0f0;border-left-color:#c33}"
         "tr.recommended td{background:#eef7ee;font-weight:600}.sw{display:inline-block;width:10px;height:10px;"
         "margin-right:6px;border-radius:2px}.badge{font-size:11px;background:#2a2;color:#fff;border-radius:3px;"
         "padding:1px 5px;margin-left:4px;font-weight:normal}.badge.bad{background:#c33}</style>")


PAGE = Template("""<!doctype html><html><head><meta charset='utf-8'><title>$title</title>$style</head><body>\
<h1>$name</h1><p>sweep $sweep · $count variants · $description</p>$regressions$recommended$plots$runtimes\
<h2>All variants</h2>$table$failed$sort_js$plotly</body></html>""")


def _recommended_html(rec: Recommendation, held: bool = False) -> str:
    r = rec.chosen
    if r is None:
        return ("<div class='rec none' id='recommended'>No variant fits every budget. Closest candidates:<ul>"
                + "".join(f"<li>{html.escape(w)}</li>" for w in rec.reasons) + "</ul></div>")
    what = "This sweep alone would recommend" if held else "Recommended"
    best = "accuracy" if rec.primary.name == "accuracy" else rec.primary.label
    rule = (f"the fastest within every budget: {best} against float32 is a floor" if rec.primary.name in FIDELITY
            else f"best {best} within every budget, ties broken by latency")
    return (f"<div class='rec' id='recommended'>{what}: <b>{html.escape(r['variant'])}</b> — "
            f"{html.escape(_quality(r, rec.primary))}, "
            f"p50 {html.escape(fmt_ms(r.get('latency_ms_p50', float('nan'))))}, "
            f"{html.escape(fmt_bytes(r.get('size_bytes', float('nan'))))} "
            f"({html.escape(rule)})</div>")


def _regressions_html(regressions: Sequence[dict[str, str]], held: str) -> str:
    """What got worse since the sweep compared with, and (when the sweep held it) what ships meanwhile."""
    if not regressions:
        return ""
    n = len(regressions)
    return (f"<div class='rec none' id='regressions'><b>{n} regression{'s' if n != 1 else ''}</b>"
            + (f" — {html.escape(plain(held))}" if held else "") + "<ul>"
            + "".join(f"<li><b>{html.escape(r['variant'])}</b>: {html.escape(r['what'])}</li>" for r in regressions)
            + "</ul></div>")


def _failed_html(rows: Sequence[dict[str, Any]]) -> str:
    failed = [r for r in rows if r["status"] == "FAILED"]
    if not failed:
        return ""
    return "<h2>Failed variants</h2><ul>" + "".join(
        f"<li><b>{html.escape(r['variant'])}</b>: {html.escape(r['reason'])}</li>" for r in failed) + "</ul>"


def figures(spec: ExperimentSpec, rec: Recommendation, history: Sequence[RunRecord],
            colours: dict[str, str] | None = None) -> list[Any]:
    """The page's plotly figures: the two trade-offs, the bars, the trends, and the profile axes and the
    runtimes when the sweep has them; every variant in its colour (``variant_colours``) in each."""
    c = colours or variant_colours([*rec.variants, *rec.pairs])
    quality = rec.primary.label
    out = [tradeoff_figure(rec.candidates, "latency_ms_p50", rec.front_latency, spec, f"{quality} vs latency p50", c,
                           rec.variant),
           tradeoff_figure(rec.candidates, "size_bytes", rec.front_size, spec, f"{quality} vs size", c, rec.variant),
           bars_figure(list(rec.candidates), c), trends_figure(history, rec.variants, c)]
    axes = axes_figure(list(rec.candidates), spec, c)
    if axes is not None:
        out.append(axes)
    if rec.multi_runtime:
        out.append(runtimes_figure(list(rec.pairs), c))
    return out


def render(spec: ExperimentSpec, sweep_id: str, rows: Sequence[dict[str, Any]], rec: Recommendation,
           history: Sequence[RunRecord] = (), regressions: Sequence[dict[str, str]] = (), held: str = "") -> str:
    """The standalone HTML page of a sweep (pure: records in, text out). ``history``: the FINISHED sweep runs
    of the experiment, for the trends; ``regressions``: what the nightly comparison found; ``held``: the
    sentence saying the recommendation was held because of them."""
    import plotly.io as pio

    colours = variant_colours([*rows, *rec.pairs])
    figs = figures(spec, rec, history, colours)
    figs_json = "[" + ",".join(pio.to_json(f, validate=False) for f in figs) + "]"
    basic = all(t.type in BASIC_TRACES for f in figs for t in f.data)
    regressed: dict[str, list[str]] = {}
    for r in regressions:
        regressed.setdefault(r["variant"], []).append(r["what"])
    chosen = None if rec.chosen is None else str(rec.chosen.get("base_variant", rec.chosen["variant"]))
    return PAGE.substitute(
        title=html.escape(f"{spec.name} — {sweep_id}"), style=STYLE, name=html.escape(spec.name),
        sweep=html.escape(sweep_id), count=len(rows), description=html.escape(spec.description),
        regressions=_regressions_html(regressions, held), recommended=_recommended_html(rec, bool(held)),
        plots="".join(f"<div id='plot{i}' class='plot'></div>" for i in range(len(figs))),
        runtimes=runtimes_section(list(rec.pairs), rec.primary) if rec.multi_runtime else "",
        table=_table(list(rows), set(rec.variant_front), spec, colours, chosen, regressed),
        failed=_failed_html(rows), sort_js=SORT_JS, plotly=_plotly_loader(figs_json, basic))


BASIC_TRACES = {"scatter", "bar", "pie"}  # what plotly.js's basic bundle draws


@functools.lru_cache(maxsize=2)
def _plotly_js_gz_b64(basic: bool) -> str:
    """plotly.js gzip-compressed and base64-encoded: the vendored basic bundle (assets/, 1.2 MB -> 0.5 MB) when it
    is the version plotly.py ships and ``basic``, else plotly.py's full bundle (4.8 MB -> 1.9 MB)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    vendored = Path(__file__).parent / "assets" / f"plotly-basic-{get_plotlyjs_version()}.min.js.gz"
    if basic and vendored.is_file():
        return base64.b64encode(vendored.read_bytes()).decode()
    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 9, mtime=0)).decode()


def _plotly_loader(figs_json: str, basic: bool = True) -> str:
    """Scripts that inflate plotly.js in the browser (no network: works from a file, offline, and inside MLflow's
    artifact viewer) and then draw every figure into its ``plotN`` div."""
    figs = figs_json.replace("</", "<\\/")  # a label can never close the script element
    return (f"<script type='application/octet-stream' id='plotly-gz'>{_plotly_js_gz_b64(basic)}</script>"
            f"<script type='application/json' id='figures'>{figs}</script>"
            "<script>(async()=>{const b=Uint8Array.from(atob(document.getElementById('plotly-gz').textContent),"
            "c=>c.charCodeAt(0));const js=await new Response(new Blob([b]).stream().pipeThrough("
            "new DecompressionStream('gzip'))).text();const s=document.createElement('script');s.textContent=js;"
            "document.head.appendChild(s);const figs=JSON.parse(document.getElementById('figures').textContent);"
            "figs.forEach((f,i)=>Plotly.newPlot('plot'+i,f.data,f.layout,{responsive:true}));})();</script>")
