"""A precision-search candidate measured by the variants' protocol (no TensorFlow: a .tflite built from the
schema), and its recipe written into an experiment file making the same file again (same SHA-256)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from tests.unit.tiny_tflite import dense_tflite
from workbench.spec import BudgetSpec, TargetSpec, load_experiment

FAST = TargetSpec(warmup_runs=2, min_runs=5, min_seconds=0.0, max_seconds=1.0)


def test_a_candidate_is_measured_on_litert_and_its_recipe_reproduces_its_file(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from workbench.convert.quantizer import quantize_recipe, weighted_layers
    from workbench.run.precision import Measurer

    float_file = tmp_path / "float32.tflite"
    float_file.write_bytes(dense_tflite(256, 64, seed=3))
    x = np.random.default_rng(0).normal(size=(40, 256)).astype(np.float32)
    it = Interpreter(model_content=float_file.read_bytes())
    it.allocate_tensors()
    y = []
    for i in range(len(x)):  # labels: the float model's own top-1, so float is 100% accurate
        it.set_tensor(it.get_input_details()[0]["index"], x[i:i + 1])
        it.invoke()
        y.append(int(np.argmax(it.get_tensor(it.get_output_details()[0]["index"]))))
    layers = weighted_layers(float_file.read_bytes())
    m = Measurer(float_file, layers, x, np.array(y), FAST, 1, tmp_path / "s", BudgetSpec(max_accuracy_drop=50.0),
                 tmp_path / "locks")
    assert m.float_accuracy == 1.0
    row, fresh = m.measure({"y": "int4_weights"}, "uniform int4_weights")
    assert fresh and m.measure({"y": "int4_weights"}, "again") == (row, False)  # a recipe is measured once
    made = tmp_path / "s" / "candidates" / f"{row['recipe_hash']}.tflite"
    assert row["size_bytes"] == made.stat().st_size < float_file.stat().st_size / 4  # the file's bytes
    assert row["model_sha256"] == hashlib.sha256(made.read_bytes()).hexdigest()
    assert 0.0 < row["accuracy"] <= 1.0 and row["accuracy_delta"] == 100.0 * (row["accuracy"] - 1.0)
    # latency from the profiler's child processes, beside the float file in the same rounds
    assert row["latency_ms_p50"] > 0 and row["float_latency_ms_p50"] > 0 and row["speedup_vs_float"] > 0
    assert row["within_budgets"] == (row["accuracy_delta"] >= -50.0)

    # the recipe, written into an experiment file as a variant, makes the same file
    (tmp_path / "e.yaml").write_text(
        "name: e\nbaseline: {model: digits_cnn, dataset: digits}\nvariants:\n"
        f"  - {{name: {row['variant']}, quantization: mixed, recipe: s/recipes/{row['recipe_hash']}.json}}\n")
    variant = load_experiment(tmp_path / "e.yaml", machine=False).variant(row["variant"])
    again = quantize_recipe(float_file.read_bytes(), variant.recipe)  # what the variant's conversion does
    assert hashlib.sha256(again).hexdigest() == row["model_sha256"]
    assert json.loads((tmp_path / "s" / "recipes" / f"{row['recipe_hash']}.json").read_text()) == list(variant.recipe)


def test_a_static_candidate_is_calibrated_on_the_experiments_draw_and_its_recipe_reproduces_its_file(tmp_path):
    from workbench.catalog.quantization import recipe_needs_calibration
    from workbench.convert.quantizer import quantize_recipe, weighted_layers
    from workbench.data import Dataset
    from workbench.run.precision import Measurer
    from workbench.variant.build import convert_variant
    from workbench.variant.inputs import draw_calibration

    float_file = tmp_path / "float32.tflite"
    float_file.write_bytes(dense_tflite(128, 32, seed=3))
    rng = np.random.default_rng(0)
    data = Dataset("d", rng.normal(size=(50, 128)).astype(np.float32), np.arange(50) % 32,
                   rng.normal(size=(30, 128)).astype(np.float32), np.arange(30) % 32)
    calibration = draw_calibration(data, 20, seed=0)  # the experiment's draw: calibration_samples 20, seed 0
    m = Measurer(float_file, weighted_layers(float_file.read_bytes()), data.x_test, data.y_test, FAST, 1,
                 tmp_path / "s", BudgetSpec(), tmp_path / "locks", calibration)
    row, _ = m.measure({"y": "int8"}, "uniform int8")
    made = (tmp_path / "s" / "candidates" / f"{row['recipe_hash']}.tflite").read_bytes()
    assert row["size_bytes"] == len(made) < float_file.stat().st_size / 2 and row["latency_ms_p50"] > 0
    (tmp_path / "e.yaml").write_text(
        "name: e\nbaseline: {model: digits_cnn, dataset: digits, training: {seed: 0}}\ncalibration_samples: 20\n"
        f"variants:\n  - {{name: {row['variant']}, quantization: mixed, recipe: s/recipes/{row['recipe_hash']}.json}}\n")
    spec = load_experiment(tmp_path / "e.yaml", machine=False)
    assert recipe_needs_calibration(spec.variant(row["variant"]).recipe)
    # the variant's own build (variant/build.py) on the same float file: its calibration draw is the search's,
    # so it makes the same file
    exported = convert_variant(_context(spec, row["variant"], data, float_file, tmp_path / "v"), None)
    assert exported.sha256 == row["model_sha256"] == hashlib.sha256(exported.path.read_bytes()).hexdigest()
    assert exported.facts["calibration_samples"] == 20
    other = quantize_recipe(float_file.read_bytes(), spec.variant(row["variant"]).recipe, "v",
                            draw_calibration(data, 20, seed=1))
    assert hashlib.sha256(other).hexdigest() != row["model_sha256"]  # the draw is part of what makes the file


def _context(spec, name, data, float_file, out_dir):
    """The context a variant's cells read, without a run: its plan entry, the data, the float file."""
    from types import SimpleNamespace

    from workbench.spec.plan import make_plan
    from workbench.variant.context import VariantContext

    plan = make_plan(spec, data.fingerprint or "data")
    planned = next(p for p in plan.variants if p.name == name)
    out_dir.mkdir(parents=True, exist_ok=True)
    baseline = SimpleNamespace(tflite_path=float_file, tflite_sha256="")
    return VariantContext(plan, planned, data, baseline, out_dir.parent, out_dir, out_dir.parent)
