"""Sensitivity analysis for notebooks: tables (pandas) and charts (plotly) for an experiment's baseline.

Both tables name a layer by its Keras name, in model order; TensorFlow's log lines are held back
(``workbench.quiet``) so the notebook shows the tables, not the converter's chatter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.quiet import quiet_native_output

QUANT_COLUMNS = ["layer", "op", "rmse_over_scale", "rmse", "scale", "max_abs_error", "int4_weights_snr_db",
                 "int4_alone_drop_pts"]


@dataclass
class SensitivityReport:
    quant_table: Any  # DataFrame: one row per quantized layer, most sensitive first
    prune_table: Any  # DataFrame: layer (model order) x sparsity -> accuracy drop in points
    quant_figure: Any
    prune_figure: Any
    #: Model Explorer node data (``views.overlay``): int8 RMSE / scale per layer output, keyed by tensor name;
    #: ``wb.write_overlay(path, ...)`` or json.dump it, then open it beside the float .tflite
    overlay: dict[str, Any]


def sensitivity_report(experiment: str | Path, sparsities: tuple[float, ...] = (0.5, 0.7, 0.9),
                       samples: int = 64, work_dir: str | Path = ".workbench",
                       root: str | Path | None = None) -> SensitivityReport:
    """int8 and pruning sensitivity of the experiment's (cached) baseline, measured on LiteRT.

    Relative paths resolve against ``root`` (default: the project root, see ``workbench.paths``)."""
    import pandas as pd
    import plotly.express as px

    from workbench.variant.inputs import experiment_baseline

    with quiet_native_output():
        from workbench.analysis.sensitivity import (
            prune_sensitivity,
            quant_sensitivity,
            quantize_alone_drops,
            weighted_layer_names,
        )
        from workbench.convert import convert

        base = experiment_baseline(experiment, work_dir, root)
        model = base.baseline.load_model()
        names = weighted_layer_names(model)
        float_tflite = convert(model, "float32")
        q_rows = quant_sensitivity(float_tflite, convert(model, "int8", base.calibration_samples()),
                                   base.dataset.x_test[:samples], layer_names=names)
        # the same layer outputs with int4 weights (LiteRT Quantizer, float compute): its per-tensor SNR
        from workbench.convert.quantizer import quantize_tflite, tensor_errors

        int4 = tensor_errors(float_tflite, quantize_tflite(float_tflite, "int4_weights"),
                             base.dataset.x_test[:min(samples, 16)])
        alone = quantize_alone_drops(float_tflite, [r["node"] for r in q_rows], base.dataset.x_test,
                                     base.dataset.y_test)
        p_rows = prune_sensitivity(model, base.dataset, sparsities)
    for r in q_rows:
        r["int4_weights_snr_db"] = int4.get(r["node"], {}).get("snr_db", float("nan"))
        r["int4_alone_drop_pts"] = alone.get(r["node"], float("nan"))  # accuracy, this layer alone int4
    q = pd.DataFrame(q_rows)
    p = pd.DataFrame(p_rows)
    quant_table = q[QUANT_COLUMNS].sort_values("rmse_over_scale", ascending=False).reset_index(drop=True)
    prune_table = p.pivot(index="layer", columns="sparsity", values="drop_pts").reindex(names).round(2)
    prune_table.columns = [f"drop (pts) at {s:.0%} sparsity" for s in prune_table.columns]
    qfig = px.bar(q, x="layer", y="rmse_over_scale", hover_data=["op", "rmse", "scale", "max_abs_error"],
                  title="int8 sensitivity per layer (RMSE / quantization scale; 0.29 = rounding noise)")
    qfig.add_hline(y=0.2887, line_dash="dot", annotation_text="rounding noise")
    pfig = px.line(p, x="sparsity", y="drop_pts", color="layer", markers=True,
                   category_orders={"layer": names}, labels={"drop_pts": "accuracy drop (points)"},
                   title="accuracy drop when pruning one layer alone, no fine-tuning")
    from workbench.views.overlay import node_data

    overlay = node_data({r["node"]: r["rmse_over_scale"] for r in q_rows})
    return SensitivityReport(quant_table, prune_table, qfig, pfig, overlay)
