"""Model zoo and user model files: safe loading, clear errors, shape checks."""

from __future__ import annotations

import pytest

from workbench.errors import DataError, ModelFileError, SpecError

pytestmark = pytest.mark.tf


def test_keras_file_roundtrip_and_fit_check(tmp_path, tiny_model, digits):
    from workbench.models import build_baseline

    p = tmp_path / "m.keras"
    tiny_model.save(p)
    loaded = build_baseline(str(p), {}, digits)
    assert loaded.count_params() == tiny_model.count_params()


def test_dataset_shape_mismatch_is_named(tmp_path, tiny_model):
    from workbench.data import load_dataset
    from workbench.models import build_baseline

    p = tmp_path / "m.keras"
    tiny_model.save(p)
    wrong = load_dataset("synthetic", {"shape": [16, 16, 3], "train": 8, "test": 4})
    with pytest.raises(DataError, match=r"\(16, 16, 3\).*expects \(8, 8, 1\)"):
        build_baseline(str(p), {}, wrong)


def test_h5_with_lambda_layer_is_refused(tmp_path):
    from workbench._keras import keras
    from workbench.models import load_model_file

    m = keras.Sequential([keras.layers.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    p = tmp_path / "lam.h5"
    m.save(p)
    with pytest.raises(ModelFileError, match="Lambda"):
        load_model_file(p)


@pytest.mark.parametrize("name,content", [("bad.keras", b"not a zip"), ("bad.h5", b"\x89HDF\r\n garbage")])
def test_corrupt_model_files(tmp_path, name, content):
    from workbench.models import load_model_file

    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ModelFileError, match=name):
        load_model_file(p)


def test_unknown_zoo_model(digits):
    from workbench.models import build_baseline

    with pytest.raises(SpecError, match="mobilenet_v2"):
        build_baseline("resnet9000", {}, digits)


def _keras_activations(model) -> int:
    """What Keras itself says every layer outputs per sample, summed (the input layer excluded)."""
    import math

    return sum(math.prod(layer.output_shape[1:]) for layer in model.layers
               if type(layer).__name__ != "InputLayer")


def test_mobilenet_v2_builds_without_downloading(tmp_path):
    """... and its .keras config gives every layer's output shape as Keras builds it (ZeroPadding2D, Conv2D,
    BatchNormalization, ReLU, DepthwiseConv2D, Add, GlobalAveragePooling2D, Dense)."""
    from workbench.model_files import check_model_file
    from workbench.model_shapes import activation_values
    from workbench.models import build_zoo_model

    m = build_zoo_model("mobilenet_v2", (96, 96, 3), 10, {"alpha": 0.35})
    assert m.output_shape == (None, 10)
    m.save(tmp_path / "m.keras")
    acts = activation_values(check_model_file(tmp_path / "m.keras").config)
    assert acts == _keras_activations(m) and acts > 1_000_000
    norms = [layer for layer in m.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 52 and {n.momentum for n in norms} == {0.9}  # not Keras's 0.999: see BN_MOMENTUM


def test_a_briefly_trained_zoo_mobilenet_learns(tmp_path):
    """With Keras's BatchNormalization momentum (0.999) a MobileNetV2 trained for 64 steps scores at chance in
    inference (its moving statistics still hold their initial values); with the zoo's 0.9 it is far above."""

    from workbench.data import BUILTIN
    from workbench.models import build_zoo_model, seed_everything, train_baseline
    from workbench.spec import TrainingSpec
    from workbench.tflite_model import accuracy

    d = BUILTIN["synthetic"](shape=(32, 32, 3), classes=4, train=256, test=128, seed=0)
    seed_everything(0)
    m = build_zoo_model("mobilenet_v2", (32, 32, 3), 4, {"alpha": 0.35})
    train_baseline(m, d, TrainingSpec(epochs=4, batch_size=16, learning_rate=0.002, seed=0))
    acc = accuracy(m.predict(d.x_test, verbose=0), d.y_test)
    assert acc > 0.6, acc  # 4 balanced classes: chance is ~0.25
