"""Keras -> .tflite bytes for each post-training quantization mode. In memory: no files written here.

The converter makes its own modes; a LiteRT Quantizer mode is the converter's float32 file rewritten by
``workbench.convert.quantizer`` (see ``workbench.catalog.quantization``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from workbench._keras import tf, tflite_mlir_quantize
from workbench.catalog.quantization import QUANT_MODE_INFO, quant_mode
from workbench.tflite_model import split_inputs

#: the signature a Keras model's .tflite carries (its inputs and outputs by the model's names)
SIGNATURE = "serving_default"
#: what each mode stores and computes in, for docs and for checks on the exported file
MODE_DOC = {m.name: m.what for m in QUANT_MODE_INFO.values()}


def _representative(x_calib: np.ndarray, model: Any = None) -> Any:
    """Calibration samples one by one, in the model's input dtype (an int32 input gets integers); a model with
    several inputs gets a dict per sample, by input name (its signature's), from the fields of ``x_calib``."""
    inputs = getattr(model, "inputs", None) or [None]
    names = list(getattr(model, "input_names", None) or [])
    dtypes = []
    for inp in inputs:
        dtype = np.dtype(getattr(getattr(inp, "dtype", None), "as_numpy_dtype", np.float32))
        dtypes.append(dtype if dtype.kind in "biuf" else np.dtype(np.float32))

    def cast(sample: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return (np.rint(sample) if dtype.kind != "f" else sample).astype(dtype)

    def gen() -> Iterator[list[np.ndarray] | tuple[str, dict[str, np.ndarray]]]:
        for i in range(len(x_calib)):
            sample = x_calib[i : i + 1]
            if x_calib.dtype.names:  # by signature input name: the converter's input order is its own
                arrays = split_inputs(sample, names)
                yield SIGNATURE, {n: cast(a, d) for n, a, d in zip(names, arrays, dtypes, strict=True)}
            else:
                yield [cast(sample, dtypes[0])]

    return gen


def convert(model: Any, mode: str, x_calib: np.ndarray | None = None, qat: bool = False) -> bytes:
    """Convert a Keras model with quantization ``mode``.

    Args:
        model: a tf_keras model (wrappers from pruning/clustering already stripped).
        mode: one of QUANT_MODES (a LiteRT Quantizer mode: the float32 file, then its recipe).
        x_calib: calibration samples (full-integer modes); ignored otherwise.
        qat: the model carries fake-quant nodes from quantization-aware training; its own ranges
            are used and no calibration is needed.
    Returns:
        The .tflite flatbuffer.
    """
    if quant_mode(mode).tool == "quantizer":  # ValueError for an unknown mode
        from workbench.convert.quantizer import quantize_tflite

        return quantize_tflite(convert(model, "float32"), mode)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float32":
        return bytes(conv.convert())
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif quant_mode(mode).calibrated:  # int8, int8_io, int16x8
        if x_calib is None and not qat:
            raise ValueError(f"mode '{mode}' needs calibration samples")
        if x_calib is not None:
            conv.representative_dataset = _representative(x_calib, model)
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
    conv.representative_dataset = _representative(x_calib, model)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_calibrate_only = True
    calibrated = conv.convert()
    io = tf.int8 if int8_io else tf.float32
    return bytes(tflite_mlir_quantize()(calibrated, fully_quantize=True, input_data_type=io, output_data_type=io,
                                           denylisted_nodes=list(keep_float_nodes)))
