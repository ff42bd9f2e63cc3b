"""The interactive explorer: pick a technique and its knobs, press run; the variant is built in-process,
measured on LiteRT, logged to MLflow, and the figure of every logged variant of the experiment updates in
place with the new point highlighted. ``notebooks/explore.ipynb`` shows it; tests drive it headless."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.spec import ExperimentSpec, VariantSpec, load_experiment

TECHNIQUES = ["ptq only", "prune", "prune_structured", "cluster", "qat", "prune+cluster+qat"]


def steps_for(technique: str, sparsity: float, clusters: int) -> list[dict[str, Any]]:
    """The step chain the explorer's controls describe."""
    prune = {"technique": "prune", "sparsity": sparsity, "epochs": 6, "learning_rate": 0.001}
    cluster = {"technique": "cluster", "clusters": clusters, "epochs": 3, "learning_rate": 0.0001}
    return {
        "ptq only": [],
        "prune": [prune],
        "prune_structured": [{"technique": "prune_structured", "epochs": 3, "learning_rate": 0.0005}],
        "cluster": [cluster],
        "qat": [{"technique": "qat", "epochs": 2, "learning_rate": 0.0001}],
        "prune+cluster+qat": [prune, {**cluster, "preserve_sparsity": True}, {"technique": "qat", "preserve": "both",
                                                                               "epochs": 2}],
    }[technique]


class Explorer:
    """Widgets + a plotly FigureWidget over an experiment's logged variants."""

    def __init__(self, experiment: str | Path, work_dir: str | Path = ".workbench", tracking_uri: str = "") -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self.experiment_file = str(experiment)
        self.spec: ExperimentSpec = load_experiment(experiment)
        self.work_dir, self.tracking_uri = work_dir, tracking_uri
        self.technique = w.Dropdown(options=TECHNIQUES, value="ptq only", description="technique")
        self.sparsity = w.FloatSlider(value=0.5, min=0.1, max=0.95, step=0.05, description="sparsity")
        self.clusters = w.IntSlider(value=16, min=2, max=64, description="clusters")
        self.quantization = w.Dropdown(options=["float32", "float16", "dynamic", "int8", "int8_io", "int16x8"],
                                       value="int8", description="quantization")
        self.threads = w.IntSlider(value=self.spec.target.threads, min=1, max=8, description="threads")
        self.button = w.Button(description="run", button_style="primary", icon="play")
        self.status = w.HTML()
        self.button.on_click(self.run)
        self.figure = go.FigureWidget(layout={"title": f"{self.spec.name}: every logged variant",
                                              "xaxis_title": "latency p50 (ms)", "yaxis_title": "accuracy (.tflite)",
                                              "template": "plotly_white", "height": 450})
        self.figure.add_scatter(mode="markers", name="logged variants", marker={"color": "#9aa"})
        self.figure.add_scatter(mode="markers+text", name="new", marker={"color": "#d62728", "size": 16},
                                textposition="top center")
        self.last_summary: dict[str, Any] | None = None
        self.refresh()

    def variant(self) -> VariantSpec:
        steps = steps_for(self.technique.value, self.sparsity.value, self.clusters.value)
        name = "explore-" + "-".join([s["technique"] for s in steps] + [self.quantization.value])
        return VariantSpec.model_validate({"name": name, "steps": steps, "quantization": self.quantization.value})

    def _logged(self) -> list[Any]:
        from workbench.tracking import TAG_KIND, Tracker

        tr = Tracker(self.tracking_uri or None)
        exp = tr.client.get_experiment_by_name(self.spec.name)
        if exp is None:
            return []
        return [r for r in tr.runs(exp.experiment_id, f"tags.`{TAG_KIND}` = 'variant'", statuses=["FINISHED"])
                if "accuracy" in r.data.metrics and "latency_ms_p50" in r.data.metrics]

    def refresh(self, highlight_run: str | None = None) -> None:
        runs = self._logged()
        with self.figure.batch_update():
            scatter, new = self.figure.data
            scatter.x = [r.data.metrics["latency_ms_p50"] for r in runs]
            scatter.y = [r.data.metrics["accuracy"] for r in runs]
            scatter.text = [r.data.tags.get("workbench.variant", "") for r in runs]
            hit = [r for r in runs if r.info.run_id == highlight_run]
            new.x = [r.data.metrics["latency_ms_p50"] for r in hit]
            new.y = [r.data.metrics["accuracy"] for r in hit]
            new.text = [r.data.tags.get("workbench.variant", "") for r in hit]

    def set_controls(self, technique: str, sparsity: float, clusters: int, quantization: str, threads: int) -> None:
        """Set every control at once (notebook parameters, tests)."""
        self.technique.value, self.sparsity.value, self.clusters.value = technique, sparsity, clusters
        self.quantization.value, self.threads.value = quantization, threads

    def point_count(self) -> int:
        return len(self.figure.data[0].x or ())

    def run(self, _button: Any = None) -> dict[str, Any]:
        """The run button: build, measure, log, update the figure. Errors are shown, not raised."""
        from workbench.pipeline import run_variant

        spec = self.spec.model_copy(update={"target": self.spec.target.model_copy(update={"threads": self.threads.value})})
        variant = self.variant()
        self.status.value = f"running <code>{variant.technique}</code> ..."
        try:
            summary = run_variant(spec, json.dumps(variant.model_dump(mode="json")), work_dir=self.work_dir,
                                  tracking_uri=self.tracking_uri)
        except Exception as exc:  # shown in the widget; the run (if any) is marked FAILED by run_variant
            self.status.value = f"<b style='color:#c33'>failed:</b> {type(exc).__name__}: {exc}"
            raise
        self.last_summary = summary
        self.refresh(highlight_run=summary["run_id"])
        self.status.value = (f"<b>{variant.name}</b>: accuracy {summary['accuracy']:.4f} "
                             f"({summary['accuracy_delta']:+.2f} pts), p50 {summary['latency_ms_p50']:.4f} ms, "
                             f"gzip ratio {summary['compression_ratio_gzip']:.2f}")
        return summary

    def widget(self) -> Any:
        import ipywidgets as w

        controls = w.VBox([self.technique, self.sparsity, self.clusters, self.quantization, self.threads,
                           self.button, self.status])
        return w.HBox([controls, self.figure])
