"""Sensitivity analysis for notebooks: tables (pandas) and charts (plotly) for an experiment's baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class SensitivityReport:
    quant_table: Any  # DataFrame: one row per quantized layer
    prune_table: Any  # DataFrame: layer x sparsity -> accuracy drop
    quant_figure: Any
    prune_figure: Any


def sensitivity_report(experiment: str | Path, sparsities: tuple[float, ...] = (0.5, 0.7, 0.9),
                       samples: int = 64, work_dir: str | Path = ".workbench") -> SensitivityReport:
    """int8 and pruning sensitivity of the experiment's (cached) baseline, measured on LiteRT."""
    import pandas as pd
    import plotly.express as px

    from workbench import pipeline
    from workbench.analysis.sensitivity import prune_sensitivity, quant_sensitivity
    from workbench.convert import convert

    ctx = pipeline.prepare_variant(experiment, '{"name": "analysis", "quantization": "int8"}', work_dir=work_dir,
                                   track=False)
    model = ctx.baseline.load_model()
    calib = pipeline.calibration_samples(ctx)
    q = pd.DataFrame(quant_sensitivity(convert(model, "float32"), convert(model, "int8", calib),
                                       ctx.dataset.x_test[:samples]))
    p = pd.DataFrame(prune_sensitivity(model, ctx.dataset, sparsities))
    qfig = px.bar(q, x="layer", y="rmse_over_scale", hover_data=["op", "rmse", "scale", "max_abs_error"],
                  title="int8 sensitivity per layer (RMSE / quantization scale; 0.29 = rounding noise)")
    qfig.add_hline(y=0.2887, line_dash="dot", annotation_text="rounding noise")
    pfig = px.line(p, x="sparsity", y="drop_pts", color="layer", markers=True,
                   title="accuracy drop (points) when pruning one layer alone, no fine-tuning")
    return SensitivityReport(q, p, qfig, pfig)
