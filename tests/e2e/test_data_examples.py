"""The worked data examples in experiments/ run end to end on tiny data the test makes (experiments/example_data.py):
a two-input model on an .npz keyed by its input names (LiteRT, ONNX Runtime, OpenVINO), a user's .keras kept as
given on a folder of images with class sub-folders, and unlabeled images ranked by fidelity to the float model.
Each float32 variant scores what the model itself scores in Keras on the same test split (to 1e-4)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.test_sweep import cli, runs_of

pytestmark = pytest.mark.slow

FAST = {"threads": 1, "warmup_runs": 2, "min_runs": 20, "min_seconds": 0.05, "max_seconds": 2}


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_data", REPO / "experiments" / "example_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The examples' data and models, made once (the models trained briefly)."""
    root = tmp_path_factory.mktemp("examples")
    _module().make_all(root, epochs=8)
    return root


def _project(root: Path, made: Path, example: str, **overrides: Any) -> str:
    """``root`` as a project holding the example (a faster target), its data and its models."""
    (root / "experiments").mkdir()
    shutil.copytree(made / "models", root / "models")
    shutil.copytree(made / "data", root / "data")
    data = yaml.safe_load((REPO / "experiments" / f"{example}.yaml").read_text())
    data.update({"target": FAST, "rounds": 1, **overrides})
    (root / "experiments" / f"{example}.yaml").write_text(yaml.safe_dump(data))
    return f"experiments/{example}.yaml"


def _sweep(project: Path, path: str, experiment: str) -> tuple[dict[str, dict[str, float]], str, str, str]:
    proc = cli("run", path, "--workers", "2", "--no-progress", cwd=project, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    tr, runs = runs_of(project, experiment)
    children = {r.tags["workbench.variant"]: r for r in runs if r.tags.get("workbench.kind") == "variant"}
    assert children and all(r.status == "FINISHED" for r in children.values())
    parent = next(r for r in runs if r.tags.get("workbench.kind") == "sweep")
    page = Path(tr.download(parent.run_id, "dashboard.html", str(project / "dl"))).read_text()
    recommended = [n for n, r in children.items() if r.tags.get("workbench.recommended") == "true"]
    assert len(recommended) == 1
    description = children["float32"].tags.get("mlflow.note.content", "")
    return {n: dict(r.metrics) for n, r in children.items()}, recommended[0], page, description + proc.stdout


def _keras_accuracy(project: Path, model: str, x: Any, y: np.ndarray) -> float:
    from workbench._keras import keras

    m = keras.models.load_model(project / model, compile=False)
    return float(np.mean(np.argmax(m.predict(x, verbose=0), axis=1) == y))


def test_two_inputs_from_an_npz_keyed_by_input_name(project, made):
    from workbench.data import feed, load_dataset

    # float32 only (int8 with two inputs, calibration included: tests/integration/test_several_inputs.py)
    path = _project(project, made, "two_inputs", variants=[{"name": "float32", "quantization": "float32"}])
    metrics, recommended, page, _ = _sweep(project, path, "two-inputs")
    ds = load_dataset("data/two_inputs.npz", root=project)
    assert ds.input_names == ("image", "numbers")
    keras_acc = _keras_accuracy(project, "models/two_inputs.keras", feed(ds.x_test), ds.y_test)
    assert keras_acc > 0.6  # the model learned from both inputs
    f32 = metrics["float32"]
    for suffix in ("", ".ort", ".ov"):  # every input fed by name on LiteRT, ONNX Runtime and OpenVINO
        assert abs(f32[f"accuracy{suffix}"] - keras_acc) <= 1e-4, (suffix, f32[f"accuracy{suffix}"], keras_acc)
        assert f32[f"snr_db{suffix}"] > 60, suffix
        assert f32[f"latency_ms_p50{suffix}"] > 0, suffix  # profiled with real samples fed to both inputs
    assert recommended == "float32"


def test_a_user_model_kept_as_given_on_an_image_folder(project, made):
    from workbench.data import load_dataset

    path = _project(project, made, "image_folder", variants=[{"name": "float32", "quantization": "float32"}])
    metrics, recommended, page, words = _sweep(project, path, "image-folder")
    ds = load_dataset("data/digit_images", {"scale": "0..1"}, project, (8, 8, 1))
    keras_acc = _keras_accuracy(project, "models/digits.keras", ds.x_test, ds.y_test)
    assert abs(metrics["float32"]["accuracy"] - keras_acc) <= 1e-4, (metrics["float32"]["accuracy"], keras_acc)
    assert "your model, not retrained" in words
    assert "image folder data/digit_images: 120 images, classes 0=0" in words  # how the folder was read
    assert "read as grayscale, resized to 8x8" in words and recommended in metrics


def test_unlabeled_images_ranked_by_fidelity(project, made):
    path = _project(project, made, "unlabeled", variants=[{"name": "float32", "quantization": "float32"},
                                                          {"name": "int8", "quantization": "int8"}],
                    profiles=[])  # LiteRT only here: fidelity on ONNX Runtime is the two-input test's

    metrics, recommended, page, words = _sweep(project, path, "unlabeled")
    for name, m in metrics.items():
        assert "accuracy" not in m and "agreement" not in m, name  # no labels, no accuracy
        assert {"snr_db", "cosine_similarity", "max_abs_error"} <= set(m), name
    assert metrics["float32"]["snr_db"] > 60 and metrics["int8"]["snr_db"] < metrics["float32"]["snr_db"]
    assert metrics[recommended]["snr_db"] >= 20  # within the floor budgets.worst sets
    assert "SNR dB against float32 is a floor" in page and "SNR dB" in words  # the dashboard and the CLI table
    assert "no labels" in words
