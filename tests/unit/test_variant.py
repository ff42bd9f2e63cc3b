"""One variant's pieces that need no TensorFlow: inputs read once (plan made or checked), artifact names."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import DataError
from workbench.spec import load_experiment
from workbench.variant.artifacts import VariantFiles
from workbench.variant.inputs import draw_calibration, read_inputs


def _experiment(tmp_path: Path) -> Path:
    path = tmp_path / "e.yaml"
    path.write_text("name: e\nbaseline: {model: digits_cnn, dataset: digits}\n"
                    "variants: [{name: f, quantization: float32}, {name: i, quantization: int8}]\n")
    return path


def test_read_inputs_makes_the_plan_and_checks_it(tmp_path: Path) -> None:
    spec = load_experiment(_experiment(tmp_path))
    made = read_inputs(spec, tmp_path)
    assert [v.name for v in made.plan.variants] == ["f", "i"]
    assert made.plan.dataset_fingerprint == made.dataset.fingerprint
    assert read_inputs(spec, tmp_path, plan=made.plan).plan is made.plan  # a plan is checked, not remade
    stale = made.plan.model_copy(update={"dataset_fingerprint": "0" * 64})
    with pytest.raises(DataError, match="dataset 'digits' changed since the sweep planned it"):
        read_inputs(spec, tmp_path, plan=stale)


def test_the_calibration_draw_is_seeded_and_bounded(tmp_path: Path) -> None:
    ds = read_inputs(load_experiment(_experiment(tmp_path)), tmp_path, variants=()).dataset
    first, again = draw_calibration(ds, 16, 7), draw_calibration(ds, 16, 7)
    assert first.shape[0] == 16 and (first == again).all()
    assert draw_calibration(ds, 10**9, 7).shape[0] == len(ds.x_train)


def test_the_logged_artifacts_keep_their_mlflow_paths(tmp_path: Path) -> None:
    out = VariantFiles(tmp_path)
    files = out.to_log([tmp_path / "model.onnx"], ["threads4"], ["ort"], has_float=True)
    assert [out.logged_as(p, folder) for p, folder in files] == [
        "model/model.tflite", "model/model.onnx", "profile/profile.json", "profile/profile-threads4.json",
        "profile/profile-ort-float-baseline.json", "profile/profile-float-baseline.json", "summary.json"]
    assert [p for p, _ in out.to_log([], [], [], has_float=False)] == [out.tflite, out.profile, out.summary]
