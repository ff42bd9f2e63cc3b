"""The LiteRT Quantizer modes: declared once in the catalogue, accepted by the spec only where the runtime runs
the rewritten .tflite, and a float .tflite (built here without TensorFlow) quantized and run on LiteRT."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from tests.unit.tiny_tflite import dense_tflite
from workbench.catalog.quantization import QUANT_MODE_INFO, QUANT_MODES, QUANTIZER_MODES
from workbench.cli import main
from workbench.convert.quantizer import quantize_tflite, recipe
from workbench.errors import ModelFileError, SpecError
from workbench.spec import VariantSpec, parse_experiment

BASE = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"}}


def _run(content: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return np.array(it.get_tensor(it.get_output_details()[0]["index"]))


def test_the_catalogue_is_the_one_list_of_modes():
    assert QUANT_MODES[:6] == ("float32", "float16", "dynamic", "int8", "int8_io", "int16x8")
    assert {"int4_weights", "int8_weights", "int4_dynamic"} <= set(QUANTIZER_MODES)
    fixed = tuple(m for m in QUANT_MODES if m != "mixed")  # mixed takes a per-layer recipe (test_precision)
    for mode in fixed:  # every mode is a valid spec value, and the explorer offers it
        assert VariantSpec(name="v", quantization=mode).quantization == mode
    from workbench.views.explorer import QUANTIZATIONS

    assert tuple(QUANTIZATIONS) == fixed
    assert all(QUANT_MODE_INFO[m].recipe for m in QUANTIZER_MODES)


def test_a_quantizer_mode_on_a_runtime_that_runs_an_onnx_from_keras_is_refused():
    with pytest.raises(SpecError) as info:
        parse_experiment({**BASE, "target": {"runtime": "onnxruntime"},
                          "variants": [{"name": "a", "quantization": "int4_weights"}]}, "f.yaml")
    msg = str(info.value)
    assert "variant 'a'" in msg and "int4_weights" in msg and "litert" in msg and "\n" not in msg
    with pytest.raises(SpecError):  # also on the variant's own runtime
        parse_experiment({**BASE, "variants": [{"name": "a", "quantization": "int4_weights",
                                                "runtime": "onnxruntime"}]}, "f.yaml")
    ok = parse_experiment({**BASE, "variants": [{"name": "a", "quantization": "int4_weights", "runtime": "openvino"}]},
                          "f.yaml")
    assert ok.variants[0].quantization == "int4_weights"


def test_the_recipe_puts_int4_where_the_policy_allows_and_int8_elsewhere():
    rules = recipe("int4_weights")
    assert rules[0]["operation"] == "*" and rules[0]["op_config"]["weight_tensor_config"]["num_bits"] == 8
    int4 = {r["operation"] for r in rules if r["op_config"]["weight_tensor_config"]["num_bits"] == 4}
    assert {"CONV_2D", "FULLY_CONNECTED"} <= int4 and "DEPTHWISE_CONV_2D" not in int4
    assert all(r["op_config"]["explicit_dequantize"] for r in rules)
    assert not any(r["op_config"]["explicit_dequantize"] for r in recipe("int4_dynamic"))
    with pytest.raises(ValueError, match="converter mode"):
        recipe("int8")


def test_int4_weights_are_smaller_than_int8_and_stay_close_to_float():
    float_tflite = dense_tflite(inputs=256, outputs=64)
    x = np.random.default_rng(1).normal(size=(1, 256)).astype(np.float32)
    ref = _run(float_tflite, x)
    int8 = quantize_tflite(float_tflite, "int8_weights")
    int4 = quantize_tflite(float_tflite, "int4_weights")
    assert len(int4) < 0.65 * len(int8) < 0.35 * len(float_tflite)  # weights dominate: ~1/2 and ~1/4
    for content, tolerance in ((int8, 0.02), (int4, 0.25)):  # relative error of the outputs
        err = float(np.linalg.norm(_run(content, x) - ref) / np.linalg.norm(ref))
        assert err < tolerance, err
    assert hashlib.sha256(int4).digest() == hashlib.sha256(quantize_tflite(float_tflite, "int4_weights")).digest()


def test_not_a_float_tflite_is_one_line():
    with pytest.raises(ModelFileError, match="cannot make int4_weights"):
        quantize_tflite(b"not a flatbuffer" * 8, "int4_weights")
    with pytest.raises(ModelFileError, match="quantized nothing"):
        quantize_tflite(quantize_tflite(dense_tflite(), "int8_weights"), "int4_weights")


def test_workbench_quantize_writes_the_file_beside_a_users_tflite(tmp_path):
    src = tmp_path / "mine.tflite"
    src.write_bytes(dense_tflite())
    r = CliRunner().invoke(main, ["quantize", str(src), "--mode", "int4_weights"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "mine.int4_weights.tflite"
    assert out.stat().st_size < src.stat().st_size
    assert hashlib.sha256(out.read_bytes()).hexdigest() in r.output
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "missing.tflite")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(main, ["quantize", str(src), "-o", str(src)])
    assert r.exit_code == 2 and "is the input file" in r.output


def test_tensor_errors_rank_int4_below_int8_and_the_overlay_is_model_explorer_node_data(tmp_path):
    from workbench.convert.quantizer import tensor_errors
    from workbench.views.overlay import node_data

    f = dense_tflite(inputs=256, outputs=64)
    x = [{"x": np.random.default_rng(2).normal(size=(1, 256)).astype(np.float32)}]
    e4, e8 = tensor_errors(f, quantize_tflite(f, "int4_weights"), x), tensor_errors(f, quantize_tflite(f, "int8_weights"), x)
    assert e8["y"]["snr_db"] > e4["y"]["snr_db"] + 12  # ~6 dB per bit: four bits fewer
    assert "snr_db" not in e4["x"]  # the input is not changed: no SNR to speak of
    data = node_data({"a": 1.0, "b": 3.0, "c": float("nan")})
    assert data["results"] == {"a": {"value": 1.0}, "b": {"value": 3.0}}
    assert [g["stop"] for g in data["gradient"]] == [0, 0.5, 1]
    with pytest.raises(ValueError, match="no finite value"):
        node_data({"a": float("inf")})
    src = tmp_path / "m.tflite"
    src.write_bytes(f)
    r = CliRunner().invoke(main, ["quantize", str(src), "--overlay", str(tmp_path / "snr.json")])
    assert r.exit_code == 0, r.output
    import json

    assert "y" in json.loads((tmp_path / "snr.json").read_text())["results"]


def test_one_layer_alone_by_its_output_tensor_and_its_accuracy_effect():
    from workbench.analysis.sensitivity import quantize_alone_drops

    f = dense_tflite(inputs=256, outputs=64)
    assert recipe("int4_weights", ("a/b;c",))[0]["regex"] == r"^(a/b;c);$"
    alone, whole = quantize_tflite(f, "int4_weights", layers=("y",)), quantize_tflite(f, "int4_weights")
    x1 = np.ones((1, 256), np.float32)
    assert np.array_equal(_run(alone, x1), _run(whole, x1)) and len(alone) < len(f) / 4  # "y": its only op
    with pytest.raises(ModelFileError, match="quantized nothing"):
        quantize_tflite(f, "int4_weights", layers=("not_a_tensor",))
    x = np.random.default_rng(3).normal(size=(40, 256)).astype(np.float32)
    y = np.array([_run(f, x[i:i + 1]).argmax() for i in range(len(x))])  # labels = the float file's top-1
    drops = quantize_alone_drops(f, ["y", "not_a_tensor"], x, y)
    assert set(drops) == {"y"} and -100 <= drops["y"] <= 0  # float is right on every sample by construction
