"""Keras -> .onnx bytes for each post-training quantization mode, for ONNX Runtime (and OpenVINO).

The float graph comes from ``tf2onnx`` (TensorFlow reached only through ``workbench._keras``); the
integer modes from ONNX Runtime's own quantization tool, calibrated on the same samples as the LiteRT
variant: ``int8`` = static QDQ, int8 weights per output channel and uint8 activations (asymmetric: LiteRT's
int8 grid shifted by 128; ONNX Runtime's x86 kernels are fastest with U8S8); ``dynamic`` =
int8 weights with activations quantized on the fly; ``int16x8`` = QDQ with int16 activations and int8
weights; ``float16`` = float16 weights cast to float32 when the session loads (float32 compute, as
LiteRT's float16 mode). ``int8_io`` keeps float32 input/output in ONNX (the caller says so in a note).
A QAT model converts with its own fake-quant ranges as QDQ nodes (no calibration). In memory: no files
are left behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalog.quantization import quant_mode
from workbench.tflite_model import split_inputs

OPSET = 17
#: what each mode becomes in ONNX, for notes and docs
ONNX_MODE_DOC = {
    "float32": "tf2onnx float32 graph",
    "float16": "float16 weights, cast to float32 at session load; float32 compute",
    "dynamic": "ONNX Runtime dynamic quantization: int8 weights, activations quantized per call",
    "int8": "ONNX Runtime static quantization: QDQ, int8 per-channel weights, uint8 activations",
    "int8_io": "as int8; the ONNX graph keeps float32 input and output",
    "int16x8": "ONNX Runtime static quantization: QDQ, int8 per-channel weights, int16 activations",
}


def keras_to_onnx(model: Any, opset: int = OPSET) -> Any:
    """The float ONNX ModelProto of a tf_keras model (batch dimension left dynamic). One input is named
    ``input``; several keep the model's input names (the samples are matched to them by name)."""
    from workbench._keras import tf, tf2onnx_from_keras

    names = ["input"] if len(model.inputs) == 1 else list(model.input_names)
    spec = tuple(tf.TensorSpec((None, *(int(d) for d in inp.shape[1:])), tf.float32, name=name)
                 for inp, name in zip(model.inputs, names, strict=True))
    proto, _ = tf2onnx_from_keras()(model, input_signature=spec, opset=opset)
    return proto


class _Calibration:
    """ONNX Runtime's CalibrationDataReader protocol over the calibration samples, one at a time (a model with
    several inputs: each input's samples from the field of its name)."""

    def __init__(self, input_names: list[str], x_calib: np.ndarray) -> None:
        arrays = split_inputs(x_calib, input_names)
        self._it: Iterator[dict[str, np.ndarray]] = iter(
            [{n: a[i : i + 1].astype(np.float32) for n, a in zip(input_names, arrays, strict=True)}
             for i in range(len(x_calib))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - one calibration pass is all quantize_static makes
        raise NotImplementedError


def float16_weights(proto: Any) -> Any:
    """The graph with every float32 initializer stored as float16 and cast back to float32 on load."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or len(init.dims) == 0:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "_cast"))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return proto


def convert_onnx(model: Any, mode: str, x_calib: np.ndarray | None = None, qat: bool = False) -> bytes:
    """Convert a Keras model to .onnx bytes with quantization ``mode`` (see the module docstring).

    Raises:
        ValueError: unknown mode, or an integer mode without calibration samples.
        Exception: whatever tf2onnx or the quantizer raise for a graph they cannot handle (the caller
            records it as what ONNX cannot do for this variant).
    """
    if quant_mode(mode).tool != "converter":  # ValueError for an unknown mode
        raise ValueError(f"{mode} is a LiteRT Quantizer mode (a rewritten .tflite): no .onnx is made for it")
    proto = keras_to_onnx(model)
    if mode == "float32" or qat:
        return bytes(proto.SerializeToString())
    if mode == "float16":
        return bytes(float16_weights(proto).SerializeToString())
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    with tempfile.TemporaryDirectory(prefix="wb-onnx-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "quant.onnx"
        src.write_bytes(proto.SerializeToString())
        if mode == "dynamic":
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        else:
            if x_calib is None:
                raise ValueError(f"mode '{mode}' needs calibration samples")
            act = QuantType.QInt16 if mode == "int16x8" else QuantType.QUInt8  # U8S8: x86's fast int8 kernels
            quantize_static(src, dst, _Calibration([i.name for i in proto.graph.input], x_calib), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=act, weight_type=QuantType.QInt8)
        return dst.read_bytes()
