"""The interactive explorer: pick a technique and its knobs, press run; the variant is built in-process,
measured on LiteRT, logged to MLflow, and the figure of every logged variant of the experiment updates in
place with the new point highlighted. ``notebooks/explore.ipynb`` shows it; tests drive it headless.

Only the knobs of the chosen technique are shown; every technique of the workbench is offered. The runs
of one explorer session are grouped under one parent run (``workbench.kind=explorer``), tagged
``workbench.origin=adhoc``: they are never a sweep's result.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from workbench.catalog.metrics import EXPLORER_AXES, METRICS, fmt_bytes, fmt_ms, ms_axis_unit
from workbench.catalog.quantization import MIXED
from workbench.paths import project_root
from workbench.paths import resolve as resolve_path
from workbench.quiet import quiet_native_output
from workbench.spec import QUANT_MODES, BaselineSpec, ExperimentSpec, VariantSpec, load_experiment
from workbench.spec.knobs import Knob
from workbench.spec.steps import STEP_SPECS, ClusterSpec, PruneSpec, QATSpec

if TYPE_CHECKING:
    from workbench.tracking import RunRecord

Steps = Callable[[Mapping[str, int | float], BaselineSpec], list[dict[str, Any]]]


@dataclass(frozen=True)
class Choice:
    """One dropdown entry: a technique (built from its step spec), a chain of them, or none (PTQ only)."""

    key: str
    label: str
    hint: str  # what it does, shown under the dropdown
    knobs: tuple[Knob, ...]
    steps: Steps
    int8_only: bool = False
    keep_float: bool = False  # the ``keep_float`` knob sets the variant's ``keep_float``


def _from_spec(spec: Any) -> Choice:
    """The entry of one step spec: its label, docstring, knobs and ``from_knobs``."""
    doc = " ".join((spec.__doc__ or spec.name()).split())
    epochs = spec.explore.get("epochs", spec.model_fields["epochs"].default)
    return Choice(spec.name(), spec.label or spec.name(), f"{doc} ({epochs} fine-tuning epochs)", spec.knobs(),
                  lambda values, baseline: [spec.from_knobs(values, baseline)], spec.int8_only)


def _pcqat(values: Mapping[str, int | float], baseline: BaselineSpec) -> list[dict[str, Any]]:
    return [PruneSpec.from_knobs({"sparsity": values["sparsity"]}, baseline),
            {**ClusterSpec.from_knobs({"clusters": values["clusters"]}, baseline), "preserve_sparsity": True},
            {**QATSpec.from_knobs({}, baseline), "preserve": "both"}]


KEEP_FLOAT = Knob("keep_float", "layers kept float", 1, 8, 1, 1)
#: every entry of the dropdown: PTQ, each step spec's technique, then two presets
CHOICES: Mapping[str, Choice] = MappingProxyType({c.key: c for c in (
    Choice("ptq", "post-training quantization only", "the baseline converted with the chosen mode, no fine-tuning",
           (), lambda values, baseline: []),
    *(_from_spec(spec) for spec in STEP_SPECS),
    Choice("prune+cluster+qat", "prune → cluster → QAT (PCQAT)",
           "pruning, sparsity-preserving clustering, then QAT preserving both",
           (*PruneSpec.knobs(), *ClusterSpec.knobs()), _pcqat, int8_only=True),
    Choice("keep_float", "selective int8 (keep_float)", "full-integer int8 with the k most quantization-sensitive "
           "layers (measured on LiteRT) left in float32", (KEEP_FLOAT,), lambda values, baseline: [],
           int8_only=True, keep_float=True),
)})
#: technique key -> (label in the dropdown, what it does: shown under it)
TECHNIQUES: Mapping[str, tuple[str, str]] = MappingProxyType({k: (c.label, c.hint) for k, c in CHOICES.items()})
#: the knobs each technique uses (quantization and threads apply to all)
KNOBS: Mapping[str, tuple[str, ...]] = MappingProxyType({k: tuple(n.name for n in c.knobs) for k, c in CHOICES.items()})


def _one_per_name(choices: Mapping[str, Choice]) -> dict[str, Knob]:
    out: dict[str, Knob] = {}
    for c in choices.values():
        for k in c.knobs:
            out.setdefault(k.name, k)
    return out


#: every knob, one control each (techniques sharing a knob's name share the first one's control)
ALL_KNOBS: Mapping[str, Knob] = MappingProxyType(_one_per_name(CHOICES))
CONTROLS = ("technique", *ALL_KNOBS, "quantization", "threads")
#: the catalogue's modes, converter and LiteRT Quantizer, but mixed (its per-layer recipe comes from a search)
QUANTIZATIONS = tuple(m for m in QUANT_MODES if m != MIXED)
INT8_ONLY = frozenset(k for k, c in CHOICES.items() if c.int8_only)
#: x-axis choices: chart label -> (metric key, scale to display units); y is always the .tflite's accuracy
X_AXES: dict[str, tuple[str, float]] = {METRICS[m].title: (m, METRICS[m].scale) for m in EXPLORER_AXES}
#: the budget (``budgets:``) drawn as a vertical line on each x axis: chart label -> (field, unit)
X_BUDGETS = {METRICS[m].title: (METRICS[m].budget, METRICS[m].shown_unit or METRICS[m].unit)
             for m in EXPLORER_AXES if METRICS[m].budget}
#: an x axis with nothing on it yet (a new experiment): a range a first point of each unit falls in
EMPTY_X: Mapping[str, tuple[float, float]] = MappingProxyType({"ms": (0.001, 100.0), "KB": (1.0, 100_000.0),
                                                               "MB": (1.0, 1000.0)})


@dataclass(frozen=True)
class XAxis:
    """How the chosen x metric is drawn: the factor from the logged value to the shown one, the unit, the
    axis title, its type and range (plotly's units: log10 of the shown values on a log axis)."""

    key: str
    factor: float
    unit: str
    title: str
    log: bool
    range: tuple[float, float]

    def at(self, shown: float) -> float:
        """Where plotly puts an annotation at the shown value ``shown`` (log axes take its log10)."""
        return math.log10(shown) if self.log else shown


def x_axis(label: str, logged: list[float], log: bool, limit: float | None = None) -> XAxis:
    """The x axis for chart label ``label`` over the logged values of its metric (and the budget ``limit``, in
    the budget's unit): latency in µs when every value is below 1 ms, a range padded around the values and
    the limit (positive values only on a log axis), a default range per unit when there is nothing to show."""
    key, factor = X_AXES[label]
    unit = METRICS[key].shown_unit or METRICS[key].unit
    title = label
    if METRICS[key].unit == "ms":
        factor, unit = ms_axis_unit(logged)
        title = label.replace("(ms)", f"({unit})")
    shown = [v * factor for v in logged if v == v] or list(EMPTY_X.get(unit, (1.0, 100.0)))
    if limit is not None:
        shown.append(limit * (factor if METRICS[key].unit == "ms" else 1.0))
    return XAxis(key, factor, unit, title + (" (log scale)" if log else ""), log, _range(shown, log))


def _range(values: list[float], log: bool) -> tuple[float, float]:
    """A padded axis range around ``values``, in plotly's units (log10 on a log axis, positive values only)."""
    if log:
        positive = [v for v in values if v > 0] or [1.0]
        lo, hi = math.log10(min(positive)), math.log10(max(positive))
        pad = max(0.1, (hi - lo) * 0.08)
        return (lo - pad, hi + pad)
    lo, hi = min(0.0, min(values)), max(values)  # sizes, latencies, memory: from 0, so lengths compare
    pad = max((hi - lo) * 0.08, 1e-9)
    return (lo - pad if lo < 0 else 0.0, hi + pad)


@dataclass(frozen=True, init=False)
class Knobs:
    """What the controls say: the technique, every knob (a technique reads only its own, see ``KNOBS``),
    quantization and threads. ``Knobs(technique="prune", sparsity=0.6)``; ``knobs.sparsity`` reads one."""

    technique: str
    quantization: str
    threads: int
    values: Mapping[str, float]

    def __init__(self, technique: str = "ptq", quantization: str = "int8", threads: int = 1, **values: float) -> None:
        unknown = sorted(set(values) - set(ALL_KNOBS))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; known: {list(CONTROLS)}")
        for name, value in (("technique", technique), ("quantization", quantization), ("threads", threads),
                            ("values", MappingProxyType({n: k.default for n, k in ALL_KNOBS.items()} | values))):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> float:
        values = self.__dict__.get("values", {})
        if name in values:
            return float(values[name])
        raise AttributeError(name)


def variant_for(knobs: Knobs, baseline: BaselineSpec) -> VariantSpec:
    """The variant the controls describe (pure: no widgets, no files). ValueError on an unknown technique."""
    choice = CHOICES.get(knobs.technique)
    if choice is None:
        raise ValueError(f"unknown technique '{knobs.technique}'; known: {', '.join(CHOICES)}")
    used = {k.name: k.value(knobs.values[k.name]) for k in choice.knobs}
    quant = knobs.quantization
    if choice.int8_only and quant not in ("int8", "int8_io"):
        quant = "int8"
    keep = int(used["keep_float"]) if choice.keep_float else 0
    label = "".join(f"-{k.replace('_', '')}{v:g}" if isinstance(v, float) else f"-{k.replace('_', '')}{v}"
                    for k, v in used.items())
    name = f"explore-{knobs.technique.replace('+', '-')}{label}-{quant}"
    return VariantSpec.model_validate({"name": name, "steps": choice.steps(used, baseline), "quantization": quant,
                                       "keep_float": keep})


@dataclass(frozen=True)
class Point:
    """One logged variant as the figure shows it."""

    run_id: str
    name: str
    technique: str
    origin: str  # "sweep" | "adhoc"
    metrics: dict[str, float]


def latest_points(runs: list[RunRecord]) -> list[Point]:
    """The newest FINISHED run of each variant id (runs come newest first), with accuracy and latency."""
    from workbench.tracking import ORIGIN_SWEEP, TAG_ORIGIN, TAG_TECHNIQUE, TAG_VARIANT, TAG_VARIANT_NAME

    seen: set[str] = set()
    out = []
    for r in runs:
        m, tags = r.metrics, r.tags
        vid = tags.get(TAG_VARIANT, r.run_id)
        if vid in seen or "accuracy" not in m or "latency_ms_p50" not in m:
            continue
        seen.add(vid)
        out.append(Point(r.run_id, tags.get(TAG_VARIANT_NAME, ""), tags.get(TAG_TECHNIQUE, ""),
                         tags.get(TAG_ORIGIN, ORIGIN_SWEEP), dict(m)))
    return out


def _accuracy_range(values: list[float]) -> list[float]:
    """A y range around the points and the accuracy budget (plotly pads a single point to +-50%); 0-100% when
    there is nothing to show yet."""
    if not values:
        return [0.0, 1.02]
    lo, hi = min(values), max(values)
    pad = max(0.005, (hi - lo) * 0.08)
    return [lo - pad, min(hi + pad, 1.0 + pad / 2)]


def _hover(p: Point) -> str:
    m = p.metrics
    lines = [f"<b>{html.escape(p.name)}</b> ({html.escape(p.technique)})",
             f"accuracy {m['accuracy']:.2%} ({m.get('accuracy_delta', 0.0):+.2f} pts)",
             f"p50 {fmt_ms(m['latency_ms_p50'])}", f"size {fmt_bytes(m.get('size_bytes', float('nan')))}"
             f" (gzip ratio {m.get('compression_ratio_gzip', 0):.2f})",
             "sweep result" if p.origin == "sweep" else "ad-hoc run (explorer / by hand)"]
    return "<br>".join(lines)


#: where ``make ui`` serves the MLflow UI of the embedded store (a tracking server serves its own)
LOCAL_UI = "http://127.0.0.1:5000"


def run_links(ui_base: str, experiment_id: str, run_id: str, artifact_uri: str) -> dict[str, str]:
    """Where to look at a variant just run: its MLflow run page (``run``), its ``.tflite`` among the run's
    artifacts in the MLflow UI (``tflite``) and, for a store on this machine, the file itself (``file``)."""
    from urllib.parse import unquote, urlparse

    from workbench.tracking import ui_path
    from workbench.variant.artifacts import MODEL_FOLDER, VariantFiles

    model = VariantFiles.logged_as(VariantFiles(Path()).tflite, MODEL_FOLDER)
    base = ui_base.rstrip("/")
    links = {"run": f"{base}/{ui_path(experiment_id, run_id)}", "tflite": f"{base}/{ui_path(experiment_id, run_id, model)}"}
    if artifact_uri.startswith("file:"):
        links["file"] = str(Path(unquote(urlparse(artifact_uri).path)) / model)
    elif artifact_uri.startswith("/"):
        links["file"] = str(Path(artifact_uri) / model)
    return links


class Explorer:
    """Widgets + a plotly FigureWidget over an experiment's logged variants.

    Relative ``experiment`` and ``work_dir`` resolve against ``root`` (default: the project root, see
    ``workbench.paths``), and the embedded store is the one under it: the one ``make demo`` fills.
    ``mlflow_ui`` is the MLflow UI the links after a run point to (default: the tracking server, or
    ``make ui``'s address for the embedded store).
    """

    def __init__(self, experiment: str | Path, work_dir: str | Path = ".workbench", tracking_uri: str = "",
                 root: str | Path | None = None, mlflow_ui: str = "") -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self.root = Path(root).resolve() if root else project_root()
        self.experiment_file = resolve_path(experiment, self.root)
        self.spec: ExperimentSpec = load_experiment(self.experiment_file)
        self.work_dir, self.tracking_uri = resolve_path(work_dir, self.root), tracking_uri
        self.session_run_id = ""  # the parent run of this session's runs, created on the first run
        self.last_summary: dict[str, Any] | None = None
        self.mlflow_ui = mlflow_ui
        self.last_links: dict[str, str] = {}
        self._highlight: str | None = None
        style = {"description_width": "110px"}

        def wide() -> Any:  # one Layout per widget: hiding a knob must not hide the others
            return w.Layout(width="360px")

        self.technique = w.Dropdown(options=[(label, key) for key, (label, _) in TECHNIQUES.items()], value="ptq",
                                    description="technique", style=style, layout=w.Layout(width="420px"))
        self.hint = w.HTML(layout=w.Layout(width="420px"))
        self.knob_widgets: dict[str, Any] = {}
        for k in ALL_KNOBS.values():  # one slider per knob, from the step specs' field metadata
            slider = w.IntSlider if k.integer else w.FloatSlider
            self.knob_widgets[k.name] = slider(value=k.value(k.default), min=k.value(k.low), max=k.value(k.high),
                                               step=k.value(k.step), description=k.label, style=style, layout=wide())
        self.quantization = w.Dropdown(options=list(QUANTIZATIONS), value="int8", description="quantization",
                                       style=style, layout=wide())
        self.threads = w.IntSlider(value=self.spec.target.threads, min=1, max=8, description="threads",
                                   style=style, layout=wide())
        self.button = w.Button(description="run", button_style="primary", icon="play")
        self.status = w.HTML()
        self.x_axis = w.Dropdown(options=list(X_AXES), value=next(iter(X_AXES)), description="x axis", style=style,
                                 layout=wide())
        self.log_x = w.Checkbox(value=True, description="log scale", indent=False)
        self.button.on_click(self.run)
        self.technique.observe(lambda _: self._show_knobs(), names="value")
        self.x_axis.observe(lambda _: self.refresh(self._highlight), names="value")
        self.log_x.observe(lambda _: self.refresh(self._highlight), names="value")
        # drawn whole first, then made a widget: a FigureWidget changed before the browser shows it can come up
        # blank (its changes are messages the front end may not be ready for; its first state is not)
        self.figure: Any = go.Figure(layout={
            "title": {"text": f"{self.spec.name}: every logged variant (newest run of each)"},
            "yaxis": {"title": {"text": "accuracy of the .tflite"}, "tickformat": ".1%"},
            "template": "plotly_white", "height": 480, "width": 960, "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
            "legend": {"orientation": "h", "y": -0.2}, "hovermode": "closest"})
        for name, color, size in (("sweep variants", "#8a9ba8", 10), ("ad-hoc runs", "#1f77b4", 10),
                                  ("new", "#d62728", 16)):
            self.figure.add_scatter(mode="markers", name=name, marker={"color": color, "size": size},
                                    hovertemplate="%{text}<extra></extra>", cliponaxis=False)
        self._show_knobs()
        self.refresh()
        self.figure = go.FigureWidget(self.figure)

    # --- controls -----------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """A knob's slider by the knob's name: ``explorer.sparsity``."""
        widgets = self.__dict__.get("knob_widgets", {})
        if name in widgets:
            return widgets[name]
        raise AttributeError(name)

    def control(self, name: str) -> Any:
        """The widget of one control (``CONTROLS``)."""
        return self.knob_widgets[name] if name in self.knob_widgets else getattr(self, name)

    def knobs(self) -> Knobs:
        return Knobs(self.technique.value, self.quantization.value, self.threads.value,
                     **{n: wd.value for n, wd in self.knob_widgets.items()})

    def set_controls(self, **knobs: Any) -> None:
        """Set any controls at once (notebook parameters, tests): ``set_controls(technique="prune", sparsity=.6)``."""
        unknown = set(knobs) - set(CONTROLS)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; known: {list(CONTROLS)}")
        variant_for(Knobs(**knobs), self.spec.baseline)  # ValueError before any control changes
        if "technique" in knobs:
            self.technique.value = knobs["technique"]
        for name, value in knobs.items():
            if name != "technique":
                self.control(name).value = value

    def _show_knobs(self) -> None:
        tech = self.technique.value
        for name, slider in self.knob_widgets.items():
            slider.layout.display = "" if name in KNOBS[tech] else "none"
        options = ["int8", "int8_io"] if tech in INT8_ONLY else list(QUANTIZATIONS)
        current = self.quantization.value
        self.quantization.options = options
        self.quantization.value = current if current in options else "int8"
        self.hint.value = f"<small style='color:#555'>{html.escape(CHOICES[tech].hint)}</small>"

    def variant(self) -> VariantSpec:
        """The variant the controls describe now."""
        return variant_for(self.knobs(), self.spec.baseline)

    # --- the figure ---------------------------------------------------------------------------------
    def _tracker(self) -> Any:
        from workbench.tracking import Tracker

        return Tracker(self.tracking_uri or None, self.root)

    def _logged(self) -> list[Point]:
        from workbench.tracking import KIND_VARIANT, TAG_KIND, RunStatus

        tr = self._tracker()
        exp = tr.experiment(self.spec.name)
        if exp is None:
            return []
        return latest_points(tr.runs(exp.experiment_id, f"tags.`{TAG_KIND}` = '{KIND_VARIANT}'",
                                     statuses=[RunStatus.FINISHED]))

    def refresh(self, highlight_run: str | None = None) -> None:
        """Re-read the store and redraw (the new run, if given, in red)."""
        self._highlight = highlight_run
        points = self._logged()
        key, _ = X_AXES[self.x_axis.value]
        points = [p for p in points if key in p.metrics]
        limit_field, _ = X_BUDGETS.get(self.x_axis.value, ("", ""))
        limit = getattr(self.spec.budgets, limit_field) if limit_field else None
        axis = x_axis(self.x_axis.value, [p.metrics[key] for p in points], self.log_x.value, limit)
        groups = ([p for p in points if p.origin != "adhoc"], [p for p in points if p.origin == "adhoc"],
                  [p for p in points if p.run_id == highlight_run])
        with self.figure.batch_update():
            for trace, group in zip(self.figure.data, groups, strict=True):
                trace.x = [p.metrics[key] * axis.factor for p in group]
                trace.y = [p.metrics["accuracy"] for p in group]
                trace.text = [_hover(p) for p in group]
            self.figure.layout.xaxis.type = "log" if axis.log else "linear"
            self.figure.layout.xaxis.range = list(axis.range)
            self.figure.layout.xaxis.title.text = axis.title
            shapes, notes = self._budget_lines(points, axis, limit)
            if not points:
                notes.append({"xref": "paper", "x": 0.5, "yref": "paper", "y": 0.5, "showarrow": False,
                              "font": {"color": "#888", "size": 14},
                              "text": "no variant of this experiment is logged yet: press <b>run</b>"})
            self.figure.layout.shapes, self.figure.layout.annotations = shapes, notes
            self.figure.layout.yaxis.range = _accuracy_range([p.metrics["accuracy"] for p in points]
                                                             + [s["y0"] for s in shapes if s["yref"] == "y"])
        if not points:
            self.status.value = (f"no variant of <code>{html.escape(self.spec.name)}</code> is logged yet in "
                                 f"<code>{html.escape(self._tracker().uri)}</code>: press <b>run</b> to build and "
                                 "measure one here, or run the whole experiment first: <code>workbench run "
                                 f"{html.escape(self._relative(self.experiment_file))}</code>")

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def _budget_lines(self, points: list[Point], axis: XAxis,
                      limit: float | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The experiment's ``budgets:`` as dashed lines: accuracy floor, and the limit on the x metric. A shape
        on a log axis takes data values; an annotation takes their log10 (``XAxis.at``)."""
        budgets = self.spec.budgets
        shapes: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        line = {"color": "#2ca02c", "dash": "dash", "width": 1.5}
        if budgets.max_accuracy_drop is not None and points:
            m = points[0].metrics  # every run knows the float baseline: accuracy - delta
            floor = m["accuracy"] - m.get("accuracy_delta", 0.0) / 100 - budgets.max_accuracy_drop / 100
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": floor, "y1": floor,
                           "line": line})
            notes.append({"xref": "paper", "x": 1, "yref": "y", "y": floor, "xanchor": "right", "yanchor": "top",
                          "showarrow": False, "font": {"color": "#2ca02c", "size": 11},
                          "text": f"budget: −{budgets.max_accuracy_drop:g} pts"})
        if limit is not None:
            shown = limit * (axis.factor if METRICS[axis.key].unit == "ms" else 1.0)  # budgets: ms, KB, MB
            shapes.append({"type": "line", "xref": "x", "x0": shown, "x1": shown, "yref": "paper", "y0": 0, "y1": 1,
                           "line": line})
            notes.append({"xref": "x", "x": axis.at(shown), "yref": "paper", "y": 1, "xanchor": "left",
                          "yanchor": "bottom", "showarrow": False, "font": {"color": "#2ca02c", "size": 11},
                          "text": f"budget: {shown:g} {axis.unit}"})
        return shapes, notes

    def point_count(self) -> int:
        """Points drawn (one per logged variant; the highlighted one is also among them)."""
        return sum(len(t.x or ()) for t in self.figure.data[:2])

    def highlighted(self) -> int:
        return len(self.figure.data[2].x or ())

    # --- running ------------------------------------------------------------------------------------
    def _session_run(self) -> str:
        """The parent run of this explorer session's runs (created once, kept FINISHED between runs)."""
        from workbench.tracking import KIND_EXPLORER, ORIGIN_ADHOC, TAG_KIND, TAG_NOTE, TAG_ORIGIN, RunStatus

        if not self.session_run_id:
            tr = self._tracker()
            tr.check()
            exp_id = tr.experiment_id(self.spec.name)
            started = time.strftime("%Y-%m-%d %H:%M")
            self.session_run_id = tr.start_run(exp_id, f"explorer {started}", {
                TAG_KIND: KIND_EXPLORER, TAG_ORIGIN: ORIGIN_ADHOC,
                TAG_NOTE: (f"Variants built interactively in the JupyterLab explorer "
                                        f"(notebooks/explore.ipynb), session started {started}. Ad-hoc runs: "
                                        "never a sweep's result, never recommended.")})
            tr.end_run(self.session_run_id, RunStatus.FINISHED)
        return self.session_run_id

    def run(self, _button: Any = None) -> dict[str, Any]:
        """The run button: build, measure, log, update the figure. Errors are shown in the widget, and raised."""
        from workbench.pipeline import run_variant

        spec = self.spec.model_copy(update={"target": self.spec.target.model_copy(update={"threads": self.threads.value})})
        variant = self.variant()
        self.status.value = f"running <code>{html.escape(variant.name)}</code> ..."
        self.button.disabled = True
        try:
            with quiet_native_output():  # TensorFlow's log lines would bury the status line
                summary = run_variant(spec, variant, work_dir=self.work_dir, tracking_uri=self.tracking_uri,
                                      root=self.root, parent_run_id=self._session_run())
        except Exception as exc:  # shown in the widget; the run (if any) is marked FAILED by run_variant
            self.status.value = f"<b style='color:#c33'>failed:</b> {html.escape(f'{type(exc).__name__}: {exc}')}"
            raise
        finally:
            self.button.disabled = False
        self.last_summary = summary
        self.refresh(highlight_run=summary["run_id"])
        self.last_links = self._links(summary["run_id"])
        self.status.value = (f"<b>{html.escape(variant.name)}</b>: accuracy {summary['accuracy']:.2%} "
                             f"({summary['accuracy_delta']:+.2f} pts), p50 {fmt_ms(summary['latency_ms_p50'])}, "
                             f"{fmt_bytes(summary['size_bytes'])} (gzip ratio {summary['compression_ratio_gzip']:.2f})"
                             + self._links_html(self.last_links)
                             + "".join(f"<br><small>{html.escape(n)}</small>" for n in summary.get("notes", [])))
        return summary

    def _links(self, run_id: str) -> dict[str, str]:
        tr = self._tracker()
        run = tr.get_run(run_id)
        base = self.mlflow_ui or (tr.uri if tr.uri.startswith(("http://", "https://")) else LOCAL_UI)
        return run_links(base, run.experiment_id, run_id, run.artifact_uri)

    def _links_html(self, links: dict[str, str]) -> str:
        """The links under the status line (the UI's address opens once ``make ui`` runs, for a local store)."""
        def a(href: str, text: str) -> str:
            return f"<a href='{html.escape(href, quote=True)}' target='_blank' style='color:#1f77b4'>{text}</a>"

        local = "" if self.mlflow_ui or not links["run"].startswith(LOCAL_UI) else " (start it: <code>make ui</code>)"
        out = f"<br>{a(links['run'], 'its MLflow run')} · {a(links['tflite'], 'its .tflite in MLflow')}{local}"
        if "file" in links:
            out += f"<br><small>file: <code>{html.escape(links['file'])}</code></small>"
        return out

    def widget(self) -> Any:
        import ipywidgets as w

        knobs = w.VBox([self.technique, self.hint, *self.knob_widgets.values()])
        common = w.VBox([self.quantization, self.threads, self.x_axis, self.log_x, self.button])
        return w.VBox([w.HBox([knobs, common]), self.status, self.figure])
