"""Each post-training quantization mode on a tiny model: the .tflite tensor types match the mode."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.spec import QUANT_MODES as ALL_MODES
from workbench.tflite_model import TfliteModel, accuracy

pytestmark = pytest.mark.tf
QUANT_MODES = tuple(m for m in ALL_MODES if m != "mixed")  # mixed: a per-layer recipe (tests/unit/test_precision.py)

# mode -> (input dtype, output dtype, stored kernel dtype of conv/dense weights)
EXPECTED = {
    "float32": ("float32", "float32", {"float32"}),
    "float16": ("float32", "float32", {"float16"}),
    "dynamic": ("float32", "float32", None),  # see test_dynamic_range_quantizes_large_kernels_only
    "int8": ("float32", "float32", {"int8"}),
    "int8_io": ("int8", "int8", {"int8"}),
    "int16x8": ("float32", "float32", {"int8"}),
    # LiteRT Quantizer modes: constant integer kernels behind DEQUANTIZE (int4 reads back as int8)
    "int8_weights": ("float32", "float32", {"int8"}),
    "int4_weights": ("float32", "float32", {"int8"}),
    "int4_dynamic": ("float32", "float32", {"int8"}),
}


@pytest.fixture(scope="module")
def converted(tiny_model, digits):
    from workbench.catalog.quantization import QUANTIZER_MODES
    from workbench.convert import convert
    from workbench.convert.quantizer import quantize_tflite

    out = {m: convert(tiny_model, m, digits.x_train[:50]) for m in QUANT_MODES if m not in QUANTIZER_MODES}
    # what convert() does for a quantizer mode, without converting the float model three more times
    return out | {m: quantize_tflite(out["float32"], m) for m in QUANTIZER_MODES}


@pytest.mark.parametrize("mode", QUANT_MODES)
def test_tensor_types_match_mode(converted, mode):
    m = TfliteModel(converted[mode])
    in_t, out_t, kernel_types = EXPECTED[mode]
    assert m.inputs[0].dtype == in_t
    assert m.outputs[0].dtype == out_t
    kernels = m.kernel_tensors()
    assert len(kernels) == 4  # conv1, conv2, fc1, logits
    if kernel_types is not None:
        assert {k.dtype.name for k in kernels.values()} == kernel_types


def test_dynamic_range_quantizes_large_kernels_only(converted):
    """The converter leaves kernels under 1024 elements in float32 in dynamic-range mode."""
    kernels = TfliteModel(converted["dynamic"]).kernel_tensors().values()
    for k in kernels:
        assert k.dtype.name == ("int8" if k.size >= 1024 else "float32"), k.shape
    assert any(k.dtype.name == "int8" for k in kernels)


def test_int16x8_has_int16_activations(converted):
    m = TfliteModel(converted["int16x8"])
    details = m._interp.get_tensor_details()
    assert any(np.dtype(d["dtype"]) == np.int16 for d in details)


def test_full_integer_models_compute_in_int8(converted):
    ops = TfliteModel(converted["int8"]).ops()
    fc = [op for op in ops if op["op_name"] == "FULLY_CONNECTED"]
    assert fc and all(np.dtype(t) == np.int8 for op in fc for t in op["operand_types"][:2])


@pytest.mark.parametrize("mode", QUANT_MODES)
def test_quantized_accuracy_close_to_float(converted, digits, mode):
    ref = accuracy(TfliteModel(converted["float32"]).predict(digits.x_test), digits.y_test)
    acc = accuracy(TfliteModel(converted[mode]).predict(digits.x_test), digits.y_test)
    assert acc > 0.5  # the tiny model learned something
    assert abs(acc - ref) < 0.05


def test_sizes_shrink_in_the_expected_order(converted):
    size = {m: len(b) for m, b in converted.items()}
    assert size["float16"] < size["float32"]
    assert size["int8"] < size["float16"]
    assert size["float32"] / size["int8"] > 2.0  # tiny model: fixed overhead weighs more


def test_int4_weights_are_smaller_than_int8_and_litert_runs_them(converted, digits):
    """The LiteRT Quantizer's int4 file is smaller than the converter's int8 one and its own int8 weights;
    LiteRT runs it (accuracy: test_quantized_accuracy_close_to_float)."""
    size = {m: len(b) for m, b in converted.items()}
    assert size["int4_weights"] < size["int8_weights"] < size["float16"]
    assert size["int4_weights"] < size["int8"]
    int4 = TfliteModel(converted["int4_weights"])
    assert "DEQUANTIZE" in {op["op_name"] for op in int4.ops()}  # weight-only: float compute
    top1 = int4.predict(digits.x_test[:32]).argmax(1)
    assert (top1 == TfliteModel(converted["float32"]).predict(digits.x_test[:32]).argmax(1)).mean() > 0.8


def test_unknown_mode_rejected(tiny_model):
    from workbench.convert import convert

    with pytest.raises(ValueError, match="allowed"):
        convert(tiny_model, "int4")
