"""The sweep dashboard: plotly figures built from what MLflow holds, written as one standalone HTML file
and logged on the sweep's parent run, with the Pareto chart as a PNG beside it. The page opens offline:
plotly.js's basic bundle (vendored in assets/) travels inside it gzip-compressed (base64) and the browser
inflates it (``DecompressionStream``), so a dashboard weighs about 0.6 MB instead of 4.9 MB.

``build_dashboard`` reads only MLflow (the parent run's ``summary.json`` and ``experiment.resolved.json``,
and the variant runs), so ``workbench report`` can rebuild any past sweep on any machine.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.analysis.pareto import (
    ACC_VS_LATENCY,
    ACC_VS_SIZE,
    budget_violations,
    pareto_front,
    recommend,
    runtime_pairs,
    runtime_payoff,
)
from workbench.spec import ExperimentSpec
from workbench.tracking import (
    RECOMMENDED_ALIAS,
    TAG_KIND,
    TAG_NOTE,
    TAG_ORIGIN,
    TAG_SWEEP,
    TAG_VARIANT,
    Tracker,
    ui_path,
)
from workbench.views.pareto_image import pareto_png
from workbench.views.summary import fmt_bytes, fmt_ms, plain, recommendation

GREY, FRONT = "#b0b0b0", "#1f77b4"
TABLE_COLS = [("variant", "variant", "{}"), ("status", "status", "{}"), ("technique", "technique", "{}"),
              ("accuracy", "accuracy", "{:.4f}"), ("accuracy_delta", "Δ pts", "{:+.2f}"),
              ("size_bytes", "size", "{}"), ("compression_ratio_gzip", "gzip ratio", "{:.2f}"),
              ("latency_ms_p50", "p50", "{}"), ("latency_ms_p95", "p95", "{}"),
              ("memory_mb_peak", "peak MB", "{:.1f}"), ("speedup_vs_float", "speedup", "{:.2f}")]


def _read_artifact(tracker: Tracker, run_id: str, name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(tracker.client.download_artifacts(run_id, name, tmp)).read_text()


def load_sweep(tracker: Tracker, experiment_id: str, sweep_id: str) -> tuple[Any, ExperimentSpec, list[dict[str, Any]]]:
    """(parent run, resolved spec, rows with the metrics as logged in each variant's run)."""
    parents = tracker.runs(experiment_id, f"tags.`{TAG_SWEEP}` = '{sweep_id}' and tags.`{TAG_KIND}` = 'sweep'")
    if not parents:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"no sweep '{sweep_id}' in this experiment")
    parent = parents[0]
    spec = ExperimentSpec.model_validate(json.loads(_read_artifact(tracker, parent.info.run_id,
                                                                   "experiment.resolved.json")))
    rows = []
    for row in json.loads(_read_artifact(tracker, parent.info.run_id, "summary.json")):
        run = tracker.get_run(row["run_id"]) if row.get("run_id") else None
        metrics = dict(run.data.metrics) if run is not None else {}
        tags = dict(run.data.tags) if run is not None else {}
        rows.append({"variant": row["variant"], "variant_id": row["variant_id"], "technique": row["technique"],
                     "status": row["status"], "reason": row.get("reason", ""), "run_id": row.get("run_id", ""),
                     "params": dict(run.data.params) if run is not None else {}, **metrics,
                     "runtime": tags.get("workbench.runtime", ""),
                     "axes_status": json.loads(tags.get("workbench.profile_axes", "{}"))})
    return parent, spec, rows


def _hover(r: dict[str, Any]) -> str:
    steps = {k: v for k, v in r["params"].items() if k.startswith("variant.") and k != "variant.name"}
    spec = "<br>".join(f"{k[8:]}={v}" for k, v in sorted(steps.items())[:12])
    return (f"<b>{html.escape(r['variant'])}</b> ({html.escape(r['technique'])})<br>accuracy {r['accuracy']:.4f} "
            f"({r.get('accuracy_delta', 0):+.2f} pts)<br>p50 {fmt_ms(r.get('latency_ms_p50', float('nan')))}, "
            f"{fmt_bytes(r.get('size_bytes', float('nan')))}<br>{spec}")


def latency_unit(rows: list[dict[str, Any]]) -> tuple[float, str]:
    """(factor from ms, unit) for latency axes: µs when every p50 is under a millisecond, else ms."""
    values = [r["latency_ms_p50"] for r in rows if isinstance(r.get("latency_ms_p50"), float)]
    return (1000.0, "µs") if values and max(values) < 1.0 else (1.0, "ms")


def tradeoff_figure(rows: list[dict[str, Any]], x: str, objectives: Any, spec: ExperimentSpec, title: str) -> Any:
    import plotly.graph_objects as go

    k, unit = latency_unit(rows) if x == "latency_ms_p50" else (1 / 1024, "KB") if x == "size_bytes" else (1.0, "")
    scale = (lambda v: v * k)  # noqa: E731 - one factor for points, Pareto line and budget line alike
    pts = [r for r in rows if isinstance(r.get("accuracy"), float) and isinstance(r.get(x), float)]
    front = set(pareto_front(pts, objectives))
    fig = go.Figure()
    for on_front in (False, True):
        sel = [r for r in pts if (r["variant"] in front) == on_front]
        fig.add_trace(go.Scatter(
            x=[scale(r[x]) for r in sel], y=[r["accuracy"] for r in sel], mode="markers+text",
            text=[r["variant"] for r in sel], textposition="top center", hovertext=[_hover(r) for r in sel],
            hoverinfo="text", name="Pareto front" if on_front else "dominated",
            marker={"size": 11 if on_front else 8, "color": FRONT if on_front else GREY}))
    line = sorted((r for r in pts if r["variant"] in front), key=lambda r: r[x])
    fig.add_trace(go.Scatter(x=[scale(r[x]) for r in line], y=[r["accuracy"] for r in line], mode="lines",
                             line={"color": FRONT, "dash": "dot"}, showlegend=False, hoverinfo="skip"))
    b = spec.budgets
    base_acc = next((r["accuracy"] - r.get("accuracy_delta", 0) / 100 for r in pts), None)
    if b.max_accuracy_drop is not None and base_acc is not None:
        fig.add_hline(y=base_acc - b.max_accuracy_drop / 100, line_dash="dash", line_color="red",
                      annotation_text=f"max_accuracy_drop {b.max_accuracy_drop:g} pts")
    limit = b.max_latency_ms if x == "latency_ms_p50" else b.max_size_kb if x == "size_bytes" else None
    if limit is not None:
        fig.add_vline(x=limit * 1024 * k if x == "size_bytes" else limit * k, line_dash="dash", line_color="red",
                      annotation_text="max_latency_ms" if x == "latency_ms_p50" else "max_size_kb")
    fig.update_layout(title=title, xaxis_title=f"latency p50 ({unit})" if x == "latency_ms_p50" else "size (KB)",
                      yaxis_title="accuracy (.tflite on LiteRT)", height=480, template="plotly_white")
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


def trends_figure(tracker: Tracker, experiment_id: str, rows: list[dict[str, Any]]) -> Any:
    """Each variant id's metrics across every FINISHED run of it in this experiment (nightly drift)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    k, unit = latency_unit(rows)
    fig = make_subplots(rows=1, cols=3, subplot_titles=("accuracy", f"latency p50 ({unit})", "size (KB)"))
    history = [h for h in tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = 'variant'", statuses=["FINISHED"])
               if h.data.tags.get(TAG_ORIGIN) != "adhoc"]  # a hand run is no night of the sweep
    for r in rows:
        runs = sorted((h for h in history if h.data.tags.get(TAG_VARIANT) == r["variant_id"]),
                      key=lambda h: h.info.start_time)
        if not runs:
            continue
        import datetime as dt

        when = [dt.datetime.fromtimestamp(h.info.start_time / 1000, dt.UTC) for h in runs]
        for col, (metric, f) in enumerate((("accuracy", 1.0), ("latency_ms_p50", k), ("size_bytes", 1 / 1024)), 1):
            fig.add_trace(go.Scatter(x=when, y=[h.data.metrics.get(metric, float("nan")) * f for h in runs],
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


def axis_runtimes(spec: ExperimentSpec) -> dict[str, str]:
    """Profile axes that put the variant on another runtime's CPU: axis name -> runtime."""
    return {p["name"]: p["runtime"] for p in spec.profiles if "runtime" in p and p.get("accelerator", "cpu") == "cpu"}


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


def _shown(value: Any, fmt: str, kilo: bool = False) -> str:
    """A table cell's text: the value formatted (bytes as KB when ``kilo``), '-' when missing or NaN."""
    if value is None or value != value:
        return "-"
    return html.escape(fmt.format(value / 1024 if kilo else value))


def runtimes_section(pairs: list[dict[str, Any]]) -> str:
    """The variant × runtime table, and the variants that pay off on one runtime and not another."""
    cols = [("base_variant", "variant", "{}"), ("runtime", "runtime", "{}"), ("accuracy", "accuracy", "{:.4f}"),
            ("agreement", "agreement", "{:.4f}"), ("latency_ms_p50", "p50 ms", "{:.4f}"),
            ("latency_ms_p95", "p95 ms", "{:.4f}"), ("memory_mb_peak", "peak MB", "{:.1f}"),
            ("speedup_vs_float", "speedup", "{:.2f}"), ("size_bytes", "file KB", "{:.1f}")]
    head = "".join(f"<th onclick='sortTable(this)'>{h}</th>" for _, h, _ in cols) + "<th>status</th>"
    body = ["<tr>" + "".join(f"<td>{_shown(p.get(key), fmt, key == 'size_bytes')}</td>" for key, _, fmt in cols)
            + f"<td>{html.escape('FAILED: ' + p.get('reason', '') if p.get('status') == 'FAILED' else 'measured')}</td></tr>"
            for p in pairs]
    payoff = runtime_payoff(pairs)
    notes = ("<ul id='runtime-payoff'>" + "".join(f"<li>{html.escape(n)}</li>" for n in payoff) + "</ul>") if payoff else ""
    return (f"<h2>Variant × runtime</h2>{notes}<table id='runtimes'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


UNITS = {"size_bytes": fmt_bytes, "latency_ms_p50": fmt_ms, "latency_ms_p95": fmt_ms}


def _table(rows: list[dict[str, Any]], front: set[str], spec: ExperimentSpec) -> str:
    head = "".join(f"<th onclick='sortTable(this)'>{h}</th>" for _, h, _ in TABLE_COLS) + "<th>Pareto</th><th>budgets</th>"
    body = []
    for r in rows:
        cells = []
        for key, _, fmt in TABLE_COLS:
            v = r.get(key)
            if v is None or v != v:
                cells.append("<td>-</td>")
            elif key in UNITS:  # read as µs/ms, KB/MB; sorted by the raw value
                cells.append(f"<td data-v='{float(v)!r}'>{html.escape(UNITS[key](float(v)))}</td>")
            else:
                cells.append(f"<td>{html.escape(fmt.format(v))}</td>")
        fails = budget_violations(r, spec.budgets) if "accuracy" in r else ["not measured"]
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


def render(spec: ExperimentSpec, sweep_id: str, rows: list[dict[str, Any]], figures: list[Any],
           recommended: dict[str, Any] | None, why_none: list[str]) -> str:
    """The standalone HTML page (pure: figures in, text out)."""
    import plotly.io as pio

    measured = [r for r in rows if isinstance(r.get("accuracy"), float)]
    front = set(pareto_front(measured, ACC_VS_LATENCY))
    if recommended is not None:
        head = (f"<div class='rec' id='recommended'>Recommended: <b>{html.escape(recommended['variant'])}</b> — "
                f"accuracy {recommended['accuracy']:.4f} ({recommended.get('accuracy_delta', 0):+.2f} pts), "
                f"p50 {fmt_ms(recommended.get('latency_ms_p50', float('nan')))}, "
                f"{fmt_bytes(recommended.get('size_bytes', float('nan')))} "
                f"(best accuracy within every budget, ties broken by latency)</div>")
    else:
        head = ("<div class='rec none' id='recommended'>No variant fits every budget. Closest candidates:<ul>"
                + "".join(f"<li>{html.escape(w)}</li>" for w in why_none) + "</ul></div>")
    plots = [f"<div id='plot{i}' class='plot'></div>" for i in range(len(figures))]
    figs = "[" + ",".join(pio.to_json(f, validate=False) for f in figures) + "]"
    basic = all(t.type in BASIC_TRACES for f in figures for t in f.data)
    failed = [r for r in rows if r["status"] == "FAILED"]
    fail_html = ("<h2>Failed variants</h2><ul>" + "".join(
        f"<li><b>{html.escape(r['variant'])}</b>: {html.escape(r['reason'])}</li>" for r in failed) + "</ul>") if failed else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(spec.name)} — {sweep_id}</title>"
            f"{STYLE}</head><body><h1>{html.escape(spec.name)}</h1><p>sweep {sweep_id} · {len(rows)} variants · "
            f"{html.escape(spec.description)}</p>{head}{''.join(plots)}<h2>All variants</h2>"
            f"{_table(rows, front, spec)}{fail_html}{SORT_JS}{_plotly_loader(figs, basic)}</body></html>")


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


@dataclass(frozen=True)
class Report:
    """What a sweep's report produced: the dashboard file, the recommended variant (None: no variant fits every
    budget) and the paragraph that answers "which variant do we ship, and what does it cost?"."""

    path: Path
    recommended: str | None
    text: str


def build_dashboard(tracker: Tracker, experiment_id: str, sweep_id: str, out_dir: Path,
                    tag_recommended: bool = False) -> Path:
    """Rebuild the dashboard of ``sweep_id`` from MLflow, write it under ``out_dir``, log it on the parent run."""
    return build_report(tracker, experiment_id, sweep_id, out_dir, tag_recommended).path


def build_report(tracker: Tracker, experiment_id: str, sweep_id: str, out_dir: Path,
                 tag_recommended: bool = False, partial: str = "") -> Report:
    """The dashboard and ``pareto.png``, written under ``out_dir`` and logged on the sweep's parent run. With
    ``tag_recommended`` (the sweep settling itself) the recommendation is also published: the run tags, the
    parent run's description and name, and the registry's ``recommended`` alias. A ``partial`` sweep (it ran only
    some variants, e.g. ``--only int8``: the reason) gets its description and changes no tag and no alias."""
    parent, spec, rows = load_sweep(tracker, experiment_id, sweep_id)
    measured = [r for r in rows if r["status"] in ("FINISHED", "SKIPPED") and isinstance(r.get("accuracy"), float)]
    variant_rows, pairs = measured, runtime_pairs(measured, spec.target.runtime, axis_runtimes(spec))
    if len({p["runtime"] for p in pairs}) > 1:  # decisions are over (variant, runtime) pairs
        measured = [p for p in pairs if p.get("status") != "FAILED" and isinstance(p.get("accuracy"), float)
                    and isinstance(p.get("latency_ms_p50"), float)]
    rec, why = recommend(measured, spec.budgets)
    figures = [tradeoff_figure(measured, "latency_ms_p50", ACC_VS_LATENCY, spec, "accuracy vs latency p50"),
               tradeoff_figure(measured, "size_bytes", ACC_VS_SIZE, spec, "accuracy vs size"),
               bars_figure(measured), trends_figure(tracker, experiment_id, variant_rows)]
    axes = axes_figure(measured, spec)
    if axes is not None:
        figures.append(axes)
    if len({p["runtime"] for p in pairs}) > 1:
        figures.append(runtimes_figure(pairs))
    page = render(spec, sweep_id, rows, figures, rec, why)
    if len({p["runtime"] for p in pairs}) > 1:
        page = page.replace("<h2>All variants</h2>", runtimes_section(pairs) + "<h2>All variants</h2>", 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{spec.name}-{sweep_id}.html"
    path.write_text(page)
    tracker.log_text(parent.info.run_id, page, "dashboard.html")
    front = pareto_front(measured, ACC_VS_LATENCY)
    tracker.log_text(parent.info.run_id, json.dumps({"pareto_accuracy_latency": front,
                                                     "pareto_accuracy_size": pareto_front(measured, ACC_VS_SIZE),
                                                     "recommended": rec["variant"] if rec else None,
                                                     "why_none": why}, indent=1), "pareto.json")
    png = pareto_png(measured, spec, rec["variant"] if rec else None, f"{spec.name} — sweep {sweep_id}")
    tracker.log_image(parent.info.run_id, png, "pareto.png", compare=tag_recommended)  # a rebuild adds no image
    dataset = f"`{spec.baseline.dataset}` (fingerprint {parent.data.params.get('dataset.fingerprint', '?')[:12]})"
    text = recommendation(spec, measured, rec, why, ui_path(experiment_id, parent.info.run_id, "dashboard.html"),
                          dataset)
    if tag_recommended and partial:
        text = f"Partial sweep ({partial}): among the variants it ran only. {text}"
        tracker.set_tags(parent.info.run_id, {TAG_NOTE: text})
        tracker.rename_run(parent.info.run_id, f"partial ({partial}) · sweep {sweep_id}")
    elif tag_recommended:
        _tag_recommended(tracker, experiment_id, rec["run_id"] if rec else None)
        tracker.set_tags(parent.info.run_id, {"workbench.recommended_variant": rec["variant"] if rec else "none"})
        text = _publish(tracker, parent, spec, sweep_id, rec, text)
    return Report(path, rec["variant"] if rec else None, text)


def _publish(tracker: Tracker, parent: Any, spec: ExperimentSpec, sweep_id: str, rec: dict[str, Any] | None,
             text: str) -> str:
    """The recommendation where a manager looks: the registry alias (a new model version when the recommended
    model changed), the parent run's description and its name. Returns the description."""
    from workbench.errors import TrackingLost

    try:
        if rec is None:
            tracker.demote(spec.name)
        else:
            version = tracker.promote(spec.name, tracker.get_run(rec["run_id"]), plain(text), {  # a table cell
                TAG_SWEEP: sweep_id, TAG_VARIANT: str(rec.get("variant_id", "")), "workbench.variant": rec["variant"]})
            if version is not None:
                text += f" Registered as model `{spec.name}` version {version}, alias `{RECOMMENDED_ALIAS}` (Models)."
    except TrackingLost:
        raise
    except Exception as exc:  # a store without a model registry: the answer still goes on the run
        text += f" The model registry was not updated ({type(exc).__name__}: {str(exc).strip()[:160]})."
    tracker.set_tags(parent.info.run_id, {TAG_NOTE: text})
    # the answer first: the runs table cuts long names short
    tracker.rename_run(parent.info.run_id, (f"ship {rec['variant']}" if rec else "no variant fits")
                       + f" · sweep {sweep_id}")
    return text


def _tag_recommended(tracker: Tracker, experiment_id: str, run_id: str | None) -> None:
    """Exactly one run of the experiment carries workbench.recommended=true: the newest recommendation."""
    for run in tracker.runs(experiment_id, "tags.`workbench.recommended` = 'true'"):
        if run.info.run_id != run_id:
            tracker.set_tags(run.info.run_id, {"workbench.recommended": "false"})
    if run_id:
        tracker.set_tags(run_id, {"workbench.recommended": "true"})


def standing_recommendation(tracker: Tracker, experiment_id: str) -> str:
    """The description of the newest sweep that settled a recommendation ('' when none has)."""
    for run in tracker.runs(experiment_id, f"tags.`{TAG_KIND}` = 'sweep'"):
        if run.data.tags.get("workbench.recommended_variant") and run.data.tags.get(TAG_NOTE):
            return str(run.data.tags[TAG_NOTE])
    return ""
