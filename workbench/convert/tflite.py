"""Keras -> .tflite bytes for each post-training quantization mode. In memory: no files written here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from workbench._keras import tf, tflite_mlir_quantize
from workbench.spec import QUANT_MODES

#: what each mode stores and computes in, for docs and for checks on the exported file
MODE_DOC = {
    "float32": "float32 weights and activations (reference)",
    "float16": "float16 weights, dequantized to float32 at load; float32 compute",
    "dynamic": "int8 weights, float activations quantized on the fly (dynamic range)",
    "int8": "full integer: int8 weights and activations, float32 input/output",
    "int8_io": "full integer: int8 weights and activations, int8 input/output",
    "int16x8": "int16 activations, int8 weights (float32 input/output)",
}


def _representative(x_calib: np.ndarray) -> Any:
    def gen() -> Iterator[list[np.ndarray]]:
        for i in range(len(x_calib)):
            yield [x_calib[i : i + 1].astype(np.float32)]

    return gen


def convert(model: Any, mode: str, x_calib: np.ndarray | None = None, qat: bool = False) -> bytes:
    """Convert a Keras model with quantization ``mode``.

    Args:
        model: a tf_keras model (wrappers from pruning/clustering already stripped).
        mode: one of QUANT_MODES.
        x_calib: calibration samples (full-integer modes); ignored otherwise.
        qat: the model carries fake-quant nodes from quantization-aware training; its own ranges
            are used and no calibration is needed.
    Returns:
        The .tflite flatbuffer.
    """
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantization mode '{mode}'; allowed: {', '.join(QUANT_MODES)}")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float32":
        return bytes(conv.convert())
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif mode in ("int8", "int8_io", "int16x8"):
        if x_calib is None and not qat:
            raise ValueError(f"mode '{mode}' needs calibration samples")
        if x_calib is not None:
            conv.representative_dataset = _representative(x_calib)
        if mode == "int16x8":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode == "int8_io":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    # "dynamic": Optimize.DEFAULT with no representative dataset
    return bytes(conv.convert())


def convert_selective(model: Any, x_calib: np.ndarray, keep_float_nodes: list[str], int8_io: bool = False) -> bytes:
    """Full-integer int8 except the ops producing ``keep_float_nodes`` (tensor names of the float model),
    which stay float32 behind DEQUANTIZE/QUANTIZE pairs. Uses the converter's calibrate-then-quantize
    path (what TensorFlow's quantization debugger does for selective quantization)."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(x_calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_calibrate_only = True
    calibrated = conv.convert()
    io = tf.int8 if int8_io else tf.float32
    return bytes(tflite_mlir_quantize()(calibrated, fully_quantize=True, input_data_type=io, output_data_type=io,
                                           denylisted_nodes=list(keep_float_nodes)))
