"""Per-layer sensitivity and selective quantization on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_experiment
from workbench.tflite_model import TfliteModel

pytestmark = pytest.mark.tf


def test_int8_sensitivity_has_one_row_per_quantized_layer(tiny_model, digits):
    from workbench.analysis.sensitivity import most_sensitive, quant_sensitivity
    from workbench.convert import convert

    rows = quant_sensitivity(convert(tiny_model, "float32"), convert(tiny_model, "int8", digits.x_train[:50]),
                             digits.x_test[:16])
    assert [r["op"] for r in rows] == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert [r["layer"] for r in rows][:3] == ["conv1", "conv2", "fc1"]
    for r in rows:
        assert r["rmse"] > 0 and r["scale"] > 0
        assert r["rmse_over_scale"] == pytest.approx(r["rmse"] / r["scale"])
        assert 0.15 < r["rmse_over_scale"] < 5  # around rounding noise (0.29) for a healthy int8 model
    top = most_sensitive(rows, 2)
    assert top[0]["rmse_over_scale"] >= top[1]["rmse_over_scale"] >= min(r["rmse_over_scale"] for r in rows)


def test_int8_sensitivity_names_layers_as_keras_does(tiny_model, digits):
    from workbench.analysis.sensitivity import quant_sensitivity, weighted_layer_names
    from workbench.convert import convert

    names = weighted_layer_names(tiny_model)  # the names the pruning table uses
    rows = quant_sensitivity(convert(tiny_model, "float32"), convert(tiny_model, "int8", digits.x_train[:50]),
                             digits.x_test[:8], layer_names=names)
    assert [r["layer"] for r in rows] == names == ["conv1", "conv2", "fc1", "logits"]


def test_pruning_sensitivity_grows_with_sparsity(tiny_model, digits):
    from workbench.analysis.sensitivity import prune_sensitivity

    before = [w.copy() for w in tiny_model.get_weights()]
    rows = prune_sensitivity(tiny_model, digits, sparsities=(0.3, 0.95), max_samples=200)
    assert {r["layer"] for r in rows} == {"conv1", "conv2", "fc1", "logits"} and len(rows) == 8
    drop = {s: np.mean([r["drop_pts"] for r in rows if r["sparsity"] == s]) for s in (0.3, 0.95)}
    assert drop[0.95] > drop[0.3]
    assert all(np.array_equal(a, b) for a, b in zip(before, tiny_model.get_weights(), strict=True))  # restored


def test_selective_int8_keeps_the_most_sensitive_layer_float(tmp_path):
    from workbench import pipeline

    write_experiment(tmp_path, epochs=4)
    exp = tmp_path / "experiments" / "tiny.yaml"
    out = {}
    for name, extra in (("plain", {}), ("keep1", {"keep_float": 1})):
        ctx = pipeline.prepare_variant(exp, json.dumps({"name": name, "quantization": "int8", **extra}),
                                       work_dir=tmp_path / ".wb", root=tmp_path, track=False)
        compressed = pipeline.compress_variant(ctx)
        exported = pipeline.convert_variant(ctx, compressed)
        out[name] = (ctx, exported, pipeline.evaluate_variant(ctx, exported, compressed).metrics)
    ctx, exported, q = out["keep1"]
    assert len(exported.facts["kept_float_layers"]) == 1
    assert any("kept in float32" in n for n in exported.notes)
    ops = TfliteModel(exported.path.read_bytes()).ops()
    weighted = [op for op in ops if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")]
    float_ops = [op for op in weighted if np.dtype(op["operand_types"][0]) == np.float32]
    assert len(float_ops) == 1 and len(weighted) == 4
    plain_q = out["plain"][2]
    assert q["agreement"] >= plain_q["agreement"] - 1 / len(ctx.dataset.x_test)


def test_keep_float_needs_full_integer():
    from workbench.spec import VariantSpec

    with pytest.raises(ValueError, match="keep_float needs quantization int8"):
        VariantSpec(name="a", quantization="float16", keep_float=1)
