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
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from workbench.analysis.pareto import budget_violations, runtime_payoff
from workbench.analysis.recommend import Recommendation
from workbench.catalog.metrics import (
    DASHBOARD_TABLE,
    FIELDS,
    RUNTIME_TABLE,
    Metric,
    cell,
    delta_record,
    heading,
    task_columns,
)
from workbench.spec import ExperimentSpec
from workbench.tracking import TAG_VARIANT, RunRecord
from workbench.views.summary import fmt_bytes, fmt_ms

GREY, FRONT = "#b0b0b0", "#1f77b4"


def _quality(r: dict[str, Any], primary: Metric) -> str:
    """``accuracy 0.9500 (-0.28 pts)`` / ``mae 0.412 (+0.003)``: the primary metric and its change against float."""
    if primary.name == "accuracy":
        return f"accuracy {r['accuracy']:.4f} ({r.get('accuracy_delta', 0):+.2f} pts)"
    d = delta_record(primary)
    return f"{primary.label} {primary.cell(r[primary.name])} ({d.cell(r.get(d.name))} against float32)"


def _hover(r: dict[str, Any], primary: Metric) -> str:
    steps = {k: v for k, v in r["params"].items() if k.startswith("variant.") and k != "variant.name"}
    spec = "<br>".join(f"{k[8:]}={v}" for k, v in sorted(steps.items())[:12])
    return (f"<b>{html.escape(r['variant'])}</b> ({html.escape(r['technique'])})<br>{html.escape(_quality(r, primary))}"
            f"<br>p50 {fmt_ms(r.get('latency_ms_p50', float('nan')))}, "
            f"{fmt_bytes(r.get('size_bytes', float('nan')))}<br>{spec}")


def latency_unit(rows: Sequence[dict[str, Any]]) -> tuple[float, str]:
    """(factor from ms, unit) for latency axes: µs when every p50 is under a millisecond, else ms."""
    values = [r["latency_ms_p50"] for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    return (1000.0, "µs") if values and max(values) < 1.0 else (1.0, "ms")


def tradeoff_figure(rows: Sequence[dict[str, Any]], x: str, front_names: Sequence[str], spec: ExperimentSpec,
                    title: str) -> Any:
    """The task's primary metric (accuracy) against ``x`` (latency p50 or size), the front (``front_names``)
    joined, budgets as lines."""
    import plotly.graph_objects as go

    primary = spec.task.primary_metric()
    y = primary.name
    k, unit = latency_unit(rows) if x == "latency_ms_p50" else (1 / 1024, "KB") if x == "size_bytes" else (1.0, "")
    scale = (lambda v: v * k)  # noqa: E731 - one factor for points, Pareto line and budget line alike
    pts = [r for r in rows if isinstance(r.get(y), float) and isinstance(r.get(x), float)]
    front = set(front_names)
    fig = go.Figure()
    for on_front in (False, True):
        sel = [r for r in pts if (r["variant"] in front) == on_front]
        fig.add_trace(go.Scatter(
            x=[scale(r[x]) for r in sel], y=[r[y] for r in sel], mode="markers+text",
            text=[r["variant"] for r in sel], textposition="top center", hovertext=[_hover(r, primary) for r in sel],
            hoverinfo="text", name="Pareto front" if on_front else "dominated",
            marker={"size": 11 if on_front else 8, "color": FRONT if on_front else GREY}))
    line = sorted((r for r in pts if r["variant"] in front), key=lambda r: r[x])
    fig.add_trace(go.Scatter(x=[scale(r[x]) for r in line], y=[r[y] for r in line], mode="lines",
                             line={"color": FRONT, "dash": "dot"}, showlegend=False, hoverinfo="skip"))
    b = spec.budgets
    base_acc = next((r["accuracy"] - r.get("accuracy_delta", 0) / 100 for r in pts), None) if y == "accuracy" else None
    if b.max_accuracy_drop is not None and base_acc is not None:
        fig.add_hline(y=base_acc - b.max_accuracy_drop / 100, line_dash="dash", line_color="red",
                      annotation_text=f"max_accuracy_drop {b.max_accuracy_drop:g} pts")
    limit = b.max_latency_ms if x == "latency_ms_p50" else b.max_size_kb if x == "size_bytes" else None
    if limit is not None:
        fig.add_vline(x=limit * 1024 * k if x == "size_bytes" else limit * k, line_dash="dash", line_color="red",
                      annotation_text="max_latency_ms" if x == "latency_ms_p50" else "max_size_kb")
    fig.update_layout(title=title, xaxis_title=f"latency p50 ({unit})" if x == "latency_ms_p50" else "size (KB)",
                      yaxis_title=primary.title, height=480, template="plotly_white")
    return fig


def bars_figure(rows: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = [r for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    names = [r["variant"] for r in ok]
    k, unit = latency_unit(ok)
    fig = make_subplots(rows=1, cols=3, subplot_titles=("size (KB)", f"latency p50 ({unit}), whiskers p5-p95",
                                                        "peak memory (MB above runner baseline)"))
    fig.add_trace(go.Bar(x=names, y=[r["size_bytes"] / 1024 for r in ok], name="size"), 1, 1)
    fig.add_trace(go.Bar(x=names, y=[r["latency_ms_p50"] * k for r in ok], name="p50", error_y={
        "type": "data", "symmetric": False,
        "array": [(r.get("latency_ms_p95", r["latency_ms_p50"]) - r["latency_ms_p50"]) * k for r in ok],
        "arrayminus": [(r["latency_ms_p50"] - r.get("latency_ms_p5", r["latency_ms_p50"])) * k for r in ok]}), 1, 2)
    fig.add_trace(go.Bar(x=names, y=[r.get("memory_mb_peak", 0) for r in ok], name="peak memory"), 1, 3)
    fig.update_layout(height=420, showlegend=False, template="plotly_white")
    return fig


def trends_figure(history: Sequence[RunRecord], rows: Sequence[dict[str, Any]]) -> Any:
    """Each variant id's metrics across ``history`` (its FINISHED sweep runs in this experiment: nightly drift)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    k, unit = latency_unit(list(rows))
    fig = make_subplots(rows=1, cols=3, subplot_titles=("accuracy", f"latency p50 ({unit})", "size (KB)"))
    for r in rows:
        runs = sorted((h for h in history if h.tags.get(TAG_VARIANT) == r["variant_id"]),
                      key=lambda h: h.start_time)
        if not runs:
            continue
        import datetime as dt

        when = [dt.datetime.fromtimestamp(h.start_time / 1000, dt.UTC) for h in runs]
        for col, (metric, f) in enumerate((("accuracy", 1.0), ("latency_ms_p50", k), ("size_bytes", 1 / 1024)), 1):
            fig.add_trace(go.Scatter(x=when, y=[h.metrics.get(metric, float("nan")) * f for h in runs],
                                     mode="lines+markers", name=r["variant"], legendgroup=r["variant"],
                                     showlegend=col == 1), 1, col)
    fig.update_layout(height=380, template="plotly_white")
    return fig


def axes_figure(rows: list[dict[str, Any]], spec: ExperimentSpec) -> Any | None:
    """Latency p50 of each variant under the main target and each extra profile axis."""
    if not spec.profiles:
        return None
    import plotly.graph_objects as go

    fig = go.Figure()
    ok = [r for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    fig.add_trace(go.Bar(name="main target", x=[r["variant"] for r in ok], y=[r["latency_ms_p50"] for r in ok]))
    for p in spec.profiles:
        fig.add_trace(go.Bar(name=p["name"], x=[r["variant"] for r in ok],
                             y=[r.get(f"latency_ms_p50.{p['name']}", float("nan")) for r in ok]))
    fig.update_layout(barmode="group", title="latency p50 by runtime option (profile axes)", height=420,
                      template="plotly_white", yaxis_title="ms")
    return fig


def runtimes_figure(pairs: list[dict[str, Any]]) -> Any:
    """Latency p50 and peak memory of each variant on each runtime, side by side."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("latency p50 (ms)", "peak memory (MB above runner baseline)"))
    for runtime in dict.fromkeys(p["runtime"] for p in pairs):
        sel = [p for p in pairs if p["runtime"] == runtime and isinstance(p.get("latency_ms_p50"), float)]
        names = [p["base_variant"] for p in sel]
        fig.add_trace(go.Bar(name=runtime, x=names, y=[p["latency_ms_p50"] for p in sel], legendgroup=runtime), 1, 1)
        fig.add_trace(go.Bar(name=runtime, x=names, y=[p.get("memory_mb_peak", float("nan")) for p in sel],
                             legendgroup=runtime, showlegend=False), 1, 2)
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


def _table(rows: list[dict[str, Any]], front: set[str], spec: ExperimentSpec) -> str:
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
            cells.append(f"<td{raw}>{html.escape(cell(c, v, True, primary))}</td>")
        fails = budget_violations(r, spec.budgets, primary) if primary.name in r else ["not measured"]
        cells.append(f"<td>{'yes' if r['variant'] in front else ''}</td>")
        cells.append(f"<td>{html.escape('; '.join(fails)) if fails else 'all met'}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
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
         "padding:12px;border-left:4px solid #2a2}.none{background:#fdf0f0;border-left-color:#c33}</style>")


PAGE = Template("""<!doctype html><html><head><meta charset='utf-8'><title>$title</title>$style</head><body>\
<h1>$name</h1><p>sweep $sweep · $count variants · $description</p>$recommended$plots$runtimes\
<h2>All variants</h2>$table$failed$sort_js$plotly</body></html>""")


def _recommended_html(rec: Recommendation) -> str:
    r = rec.chosen
    if r is None:
        return ("<div class='rec none' id='recommended'>No variant fits every budget. Closest candidates:<ul>"
                + "".join(f"<li>{html.escape(w)}</li>" for w in rec.reasons) + "</ul></div>")
    best = "accuracy" if rec.primary.name == "accuracy" else rec.primary.label
    return (f"<div class='rec' id='recommended'>Recommended: <b>{html.escape(r['variant'])}</b> — "
            f"{html.escape(_quality(r, rec.primary))}, "
            f"p50 {html.escape(fmt_ms(r.get('latency_ms_p50', float('nan'))))}, "
            f"{html.escape(fmt_bytes(r.get('size_bytes', float('nan'))))} "
            f"(best {html.escape(best)} within every budget, ties broken by latency)</div>")


def _failed_html(rows: Sequence[dict[str, Any]]) -> str:
    failed = [r for r in rows if r["status"] == "FAILED"]
    if not failed:
        return ""
    return "<h2>Failed variants</h2><ul>" + "".join(
        f"<li><b>{html.escape(r['variant'])}</b>: {html.escape(r['reason'])}</li>" for r in failed) + "</ul>"


def figures(spec: ExperimentSpec, rec: Recommendation, history: Sequence[RunRecord]) -> list[Any]:
    """The page's plotly figures: the two trade-offs, the bars, the trends, and the profile axes and the
    runtimes when the sweep has them."""
    quality = rec.primary.label
    out = [tradeoff_figure(rec.candidates, "latency_ms_p50", rec.front_latency, spec, f"{quality} vs latency p50"),
           tradeoff_figure(rec.candidates, "size_bytes", rec.front_size, spec, f"{quality} vs size"),
           bars_figure(list(rec.candidates)), trends_figure(history, rec.variants)]
    axes = axes_figure(list(rec.candidates), spec)
    if axes is not None:
        out.append(axes)
    if rec.multi_runtime:
        out.append(runtimes_figure(list(rec.pairs)))
    return out


def render(spec: ExperimentSpec, sweep_id: str, rows: Sequence[dict[str, Any]], rec: Recommendation,
           history: Sequence[RunRecord] = ()) -> str:
    """The standalone HTML page of a sweep (pure: records in, text out). ``history``: the FINISHED sweep runs
    of the experiment, for the trends."""
    import plotly.io as pio

    figs = figures(spec, rec, history)
    figs_json = "[" + ",".join(pio.to_json(f, validate=False) for f in figs) + "]"
    basic = all(t.type in BASIC_TRACES for f in figs for t in f.data)
    return PAGE.substitute(
        title=html.escape(f"{spec.name} — {sweep_id}"), style=STYLE, name=html.escape(spec.name),
        sweep=html.escape(sweep_id), count=len(rows), description=html.escape(spec.description),
        recommended=_recommended_html(rec), plots="".join(f"<div id='plot{i}' class='plot'></div>" for i in range(len(figs))),
        runtimes=runtimes_section(list(rec.pairs), rec.primary) if rec.multi_runtime else "",
        table=_table(list(rows), set(rec.variant_front), spec), failed=_failed_html(rows), sort_js=SORT_JS,
        plotly=_plotly_loader(figs_json, basic))


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
