"""Per-layer sensitivity, measured on LiteRT.

- Quantization: run the float and the full-integer .tflite with every intermediate tensor kept, pair
  their ops (same graph, minus QUANTIZE/DEQUANTIZE), and compare each weighted layer's output (conv,
  depthwise, fully connected): RMSE of the dequantized int8 output against float, relative to the
  layer's quantization scale. ~0.29 (1/sqrt 12) is pure rounding noise; larger means error from this
  layer and everything before it (the figure accumulates along the graph, as on the device).
- Pruning: prune one layer at a time (one-shot magnitude, no fine-tuning) at several sparsities, export
  float32, and record the accuracy drop on the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.tflite_model import TfliteModel, accuracy

SKIP = {"QUANTIZE", "DEQUANTIZE", "DELEGATE"}
WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}


def _run_all_tensors(content: bytes, x: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[int, np.ndarray]]]:
    """Every op's output tensor for every sample, on LiteRT's reference kernels (every input fed by name, an
    int8 input quantized with its scale)."""
    m = TfliteModel(content, xnnpack=False, source="sensitivity", preserve_all_tensors=True)
    interp = m.interpreter
    ops = [op for op in interp._get_ops_details() if op["op_name"] not in SKIP]
    feeds = m.feeds(x)
    outs = []
    for i in range(len(x)):
        m.run(feeds, i)
        outs.append({int(op["outputs"][0]): interp.get_tensor(int(op["outputs"][0])).copy() for op in ops})
    details = {d["index"]: d for d in interp.get_tensor_details()}
    for op in ops:
        op["tensor"] = details[int(op["outputs"][0])]
    return ops, outs


def _layer_label(tensor_name: str, op_name: str, k: int) -> str:
    """'model/fc1/MatMul;...' -> 'fc1'; outputs named by the signature fall back to 'fully_connected#k'."""
    parts = tensor_name.split(";")[0].split("/")
    return parts[1] if len(parts) >= 3 else f"{op_name.lower()}#{k}"


def weighted_layer_names(model: Any) -> list[str]:
    """The Keras names of the layers with a kernel, in model order: the layers both analyses rank."""
    return [layer.name for layer in model.layers if getattr(layer, "kernel", None) is not None]


def _keras_names(labels: list[str], names: Sequence[str]) -> list[str]:
    """Labels read from .tflite tensor names -> the model's Keras layer names. A label that is not one
    (an output named by the signature, e.g. ``StatefulPartitionedCall:0``) takes the next unused name in
    graph order, so every table names a layer the same way."""
    free = [n for n in names if n not in labels]
    return [label if label in names or not free else free.pop(0) for label in labels]


def quant_sensitivity(float_tflite: bytes, int8_tflite: bytes, x: np.ndarray,
                      layer_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per quantized layer: op, float tensor name (usable to keep it float), RMSE, scale, RMSE/scale.

    ``layer_names`` (``weighted_layer_names(model)``) makes every row's ``layer`` the Keras layer name."""
    f_ops, f_out = _run_all_tensors(float_tflite, x)
    q_ops, q_out = _run_all_tensors(int8_tflite, x)
    if [o["op_name"] for o in f_ops] != [o["op_name"] for o in q_ops]:
        raise ValueError("cannot pair float and int8 ops: the graphs differ beyond QUANTIZE/DEQUANTIZE")
    rows: list[dict[str, Any]] = []
    for fo, qo in zip(f_ops, q_ops, strict=True):
        scale, zp = qo["tensor"]["quantization"]
        if not scale or fo["op_name"] not in WEIGHTED:
            continue  # float in the "int8" model, or a layer without weights (pooling, reshape): not ranked
        fi, qi = int(fo["outputs"][0]), int(qo["outputs"][0])
        ref = np.concatenate([o[fi].reshape(-1) for o in f_out]).astype(np.float64)
        deq = (np.concatenate([o[qi].reshape(-1) for o in q_out]).astype(np.float64) - zp) * scale
        rmse = float(np.sqrt(np.mean((deq - ref) ** 2)))
        rows.append({"layer": _layer_label(fo["tensor"]["name"], fo["op_name"], len(rows)), "op": fo["op_name"],
                     "node": fo["tensor"]["name"],
                     "rmse": rmse, "scale": float(scale), "rmse_over_scale": rmse / float(scale),
                     "max_abs_error": float(np.max(np.abs(deq - ref)))})
    for row, name in zip(rows, _keras_names([r["layer"] for r in rows], layer_names), strict=True):
        row["layer"] = name
    return rows


def most_sensitive(rows: Sequence[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: -r["rmse_over_scale"])[:k]


def prune_sensitivity(model: Any, dataset: Any, sparsities: Sequence[float] = (0.5, 0.7, 0.9),
                      max_samples: int = 360) -> list[dict[str, Any]]:
    """Accuracy drop (points) when one layer's kernel alone is magnitude-pruned, for each sparsity."""
    from workbench.convert import convert

    x, y = dataset.x_test[:max_samples], dataset.y_test[:max_samples]
    base_acc = accuracy(TfliteModel(convert(model, "float32")).predict(x), y)
    original = model.get_weights()
    rows = []
    for layer in (model.get_layer(name) for name in weighted_layer_names(model)):
        kernel = layer.kernel
        w = kernel.numpy()
        for s in sparsities:
            threshold = np.quantile(np.abs(w), s)
            kernel.assign(np.where(np.abs(w) <= threshold, 0.0, w).astype(w.dtype))
            acc = accuracy(TfliteModel(convert(model, "float32")).predict(x), y)
            rows.append({"layer": layer.name, "sparsity": s, "accuracy": acc, "drop_pts": (base_acc - acc) * 100})
            model.set_weights(original)
    return rows


def quantize_alone_drops(float_tflite: bytes, nodes: Sequence[str], x: np.ndarray, y: np.ndarray,
                         mode: str = "int4_weights") -> dict[str, float]:
    """Accuracy effect of quantizing one layer alone, on LiteRT: for each node (an op's output tensor name
    in ``float_tflite``), the LiteRT Quantizer's ``mode`` applied to that op only, then the accuracy on
    ``x, y`` minus the float file's, in points (negative = worse). A node the recipe cannot quantize is
    left out."""
    from workbench.convert.quantizer import quantize_tflite
    from workbench.errors import ModelFileError

    ref = accuracy(TfliteModel(float_tflite).predict(x), y)
    out = {}
    for node in nodes:
        try:
            one = quantize_tflite(float_tflite, mode, layers=(node,))
        except ModelFileError:  # nothing this recipe quantizes in that op (e.g. no weights)
            continue
        out[node] = 100.0 * (accuracy(TfliteModel(one).predict(x), y) - ref)
    return out
