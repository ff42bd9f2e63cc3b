"""Data against a user's model file, from the file's Keras config alone (no TensorFlow): the signature read from
config.json / model_config, and every refusal of ``fit.check_fit`` as one line before any cost."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.errors import DataError
from workbench.fit import check_fit
from workbench.model_config import ModelSignature, TensorSpec, signature_of
from workbench.model_files import check_model_file

REPO = Path(__file__).resolve().parents[2]


def _layer(cls: str, name: str, inbound: list[str] | None = None, **config: Any) -> dict[str, Any]:
    layer: dict[str, Any] = {"module": "keras.layers", "class_name": cls, "config": {"name": name, **config},
                             "name": name}
    if inbound is not None:
        layer["inbound_nodes"] = [[[n, 0, 0, {}] for n in inbound]] if inbound else []
    return layer


def _input(name: str, shape: list[int | None], dtype: str = "float32") -> dict[str, Any]:
    return _layer("InputLayer", name, [], batch_input_shape=[None, *shape], dtype=dtype)


def sequential(shape: list[int | None], units: int, dtype: str = "float32", softmax: bool = False) -> dict[str, Any]:
    """A tf_keras Sequential config as model.save writes it: Input, Flatten, Dense(units)[, Softmax]."""
    layers = [_input("input_1", shape, dtype), _layer("Flatten", "flatten"), _layer("Dense", "dense", units=units)]
    if softmax:
        layers.append(_layer("Activation", "act", activation="softmax"))
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def functional(inputs: list[dict[str, Any]], layers: list[dict[str, Any]], outputs: list[str]) -> dict[str, Any]:
    return {"module": "tf_keras.src.engine.functional", "class_name": "Functional",
            "config": {"name": "model", "layers": [*inputs, *layers],
                       "input_layers": [[i["name"], 0, 0] for i in inputs], "output_layers": [[o, 0, 0] for o in outputs]}}


def embedding_model(vocabulary: int = 20, length: int = 5, classes: int = 3) -> dict[str, Any]:
    return functional([_input("tok", [length], "int32")],
                      [_layer("Embedding", "emb", ["tok"], input_dim=vocabulary, output_dim=4),
                       _layer("Flatten", "flat", ["emb"]), _layer("Dense", "out", ["flat"], units=classes)], ["out"])


def keras_file(path: Path, config: dict[str, Any]) -> Path:
    """A .keras archive holding only config.json: enough for every check made before TensorFlow loads it."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "2.19.0"}))
    return path


def test_signature_of_a_sequential_model(tmp_path: Path) -> None:
    sig = check_model_file(keras_file(tmp_path / "m.keras", sequential([8, 8, 1], 10, softmax=True))).signature
    assert sig == ModelSignature((TensorSpec("input_1", (8, 8, 1), "float32"),), sig.outputs)
    assert [(o.name, o.units) for o in sig.outputs] == [("dense", 10)]  # through the softmax to the Dense


def test_signature_of_a_functional_model_with_two_inputs_and_outputs() -> None:
    cfg = functional([_input("a", [4]), _input("b", [None, 3])],
                     [_layer("Concatenate", "cat", ["a", "b"]), _layer("Dense", "o1", ["cat"], units=2),
                      _layer("Softmax", "p1", ["o1"]), _layer("Reshape", "o2", ["cat"])], ["p1", "o2"])
    sig = signature_of(cfg)
    assert sig is not None
    assert [(i.name, i.shape) for i in sig.inputs] == [("a", (4,)), ("b", (None, 3))]
    assert [(o.name, o.units) for o in sig.outputs] == [("p1", 2), ("o2", None)]


def test_signature_finds_an_embedding_fed_by_the_input() -> None:
    sig = signature_of(embedding_model())
    assert sig is not None and sig.inputs[0].dtype == "int32"
    assert [(e.name, e.input, e.input_dim) for e in sig.embeddings] == [("emb", "tok", 20)]


@pytest.mark.parametrize("config", [None, {"class_name": "MyModel", "config": {}}, {"class_name": "Sequential"},
                                    {"class_name": "Functional", "config": {"layers": "x"}}])
def test_a_config_that_does_not_say_gives_no_signature(config: Any) -> None:
    assert signature_of(config) is None


def _npz(tmp_path: Path, **arrays: Any) -> Any:
    rng = np.random.default_rng(0)
    base = {"x_train": rng.uniform(size=(30, 8, 8, 1)), "y_train": np.arange(30) % 10,
            "x_test": rng.uniform(size=(10, 8, 8, 1)), "y_test": np.arange(10) % 10}
    np.savez(tmp_path / "d.npz", **{**base, **arrays})
    return load_dataset("d.npz", root=tmp_path)


def _refusal(config: dict[str, Any], dataset: Any) -> str:
    with pytest.raises(DataError) as info:
        check_fit("m.keras", signature_of(config), dataset)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_data_that_fits_passes(tmp_path: Path) -> None:
    check_fit("m.keras", signature_of(sequential([8, 8, 1], 10)), _npz(tmp_path))
    check_fit("m.keras", signature_of(sequential([None, None, 1], 12)), _npz(tmp_path))  # more outputs than classes
    check_fit("saved", None, _npz(tmp_path))  # no config to read: checked after loading instead


def test_flattened_samples_for_an_image_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = _npz(tmp_path, x_train=rng.uniform(size=(30, 64)), x_test=rng.uniform(size=(10, 64)))
    assert _refusal(sequential([8, 8, 1], 10), data) == (
        "model 'm.keras' and dataset 'd.npz': samples have shape (64,) but input 'input_1' expects (8, 8, 1); "
        "reshape the data (x.reshape(-1, ...)) or give a model for this shape")


def test_a_label_beyond_the_outputs(tmp_path: Path) -> None:
    y = np.arange(30) % 10
    y[7] = 1_000_000
    assert "y_train has the label 1000000 at sample 7 but output 'dense' has 10 units (classes 0..9)" in _refusal(
        sequential([8, 8, 1], 10), _npz(tmp_path, y_train=y))


def test_one_hot_labels_must_match_the_output_units(tmp_path: Path) -> None:
    data = _npz(tmp_path, y_train=np.eye(12)[np.arange(30) % 10], y_test=np.eye(12)[np.arange(10) % 10])
    assert "one-hot with 12 classes but output 'dense' has 10 units" in _refusal(sequential([8, 8, 1], 10), data)
    check_fit("m.keras", signature_of(sequential([8, 8, 1], 12)), data)


def test_two_inputs_for_one_array(tmp_path: Path) -> None:
    cfg = functional([_input("a", [8, 8, 1]), _input("b", [3])], [_layer("Dense", "o", ["a"], units=10)], ["o"])
    assert "the model has 2 inputs (a, b) but the dataset gives one array per sample" in _refusal(cfg, _npz(tmp_path))


def _tokens(tmp_path: Path, x_train: np.ndarray) -> Any:
    x_test = np.random.default_rng(1).integers(0, 20, size=(10, 5))
    return _npz(tmp_path, x_train=x_train, y_train=np.arange(30) % 3, x_test=x_test, y_test=np.arange(10) % 3)


def test_token_ids_are_checked_against_the_input_dtype_and_the_vocabulary(tmp_path: Path) -> None:
    ok = np.random.default_rng(0).integers(0, 20, size=(30, 5))
    check_fit("m.keras", signature_of(embedding_model()), _tokens(tmp_path, ok))
    halves = ok.astype(float)
    halves[3, 1] = 2.5
    assert "input 'tok' is int32 but x_train holds the non-integer value 2.5 (sample 3)" in _refusal(
        embedding_model(), _tokens(tmp_path, halves))
    big = ok.copy()
    big[4, 2] = 20
    assert ("x_train holds the token id 20 (sample 4) but Embedding 'emb' has 20 rows (ids 0..19)"
            in _refusal(embedding_model(), _tokens(tmp_path, big)))


def test_validate_refuses_data_that_does_not_fit_without_tensorflow(tmp_path: Path) -> None:
    keras_file(tmp_path / "m.keras", sequential([8, 8, 1], 10))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.uniform(size=(30, 64)), y_train=np.arange(30) % 10,
             x_test=rng.uniform(size=(10, 64)), y_test=np.arange(10) % 10)
    (tmp_path / "e.yaml").write_text("name: e\nbaseline: {model: m.keras, dataset: d.npz}\nvariants: [{name: a}]\n")
    code = ("import sys\nfrom workbench.cli import main\ntry:\n    main(['validate', 'e.yaml'])\n"
            "except SystemExit as e:\n    print('exit', e.code, 'tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "exit 2 False", out.stdout + out.stderr
    assert out.stderr.strip().startswith("error: model 'm.keras' and dataset 'd.npz': samples have shape (64,)")
    assert len(out.stderr.strip().splitlines()) == 1


# ------------------------------------------------- feeding a .tflite: quantize only a quantized tensor's float data


def test_an_integer_input_without_quantization_gets_the_values_themselves() -> None:
    from workbench.tflite_model import IoInfo, from_output, to_input

    ids = np.array([[0.0, 3.0, 19.0]], np.float32)  # token ids as the dataset stores them (float32)
    fed = to_input(ids, IoInfo("tokens", "int32", (1, 3), 0.0, 0))
    assert fed.dtype == np.int32 and fed.tolist() == [[0, 3, 19]]  # not divided by a zero scale
    assert to_input(np.array([[1, 2]], np.int64), IoInfo("t", "int32", (1, 2), 0.5, 3)).tolist() == [[1, 2]]
    q = to_input(np.array([[0.5, -1.0, 100.0]], np.float32), IoInfo("x", "int8", (1, 3), 0.5, -1))
    assert q.dtype == np.int8 and q.tolist() == [[0, -3, 127]]  # a quantized input: x / scale + zero point, clipped
    assert from_output(np.array([[4]], np.int8), IoInfo("y", "int8", (1, 1), 0.25, 2)).tolist() == [[0.5]]
    assert from_output(np.array([[4]], np.int64), IoInfo("y", "int64", (1, 1), 0.0, 0)).tolist() == [[4.0]]


def test_a_stray_label_does_not_size_a_zoo_model(tmp_path: Path) -> None:
    from workbench.fit import check_classes

    y = np.arange(30) % 10
    check_classes("digits_cnn", _npz(tmp_path, y_train=y))
    check_classes("digits_cnn", _npz(tmp_path, y_train=np.where(y == 3, 13, y)))  # a gap is fine: 10 of 14 occur
    y[7] = 1_000_000
    with pytest.raises(DataError, match=r"y_train has the label 1000000 at sample 7 but only 11 of the 1,000,001 "
                                        r"classes 0\.\.1000000 occur in it; zoo model 'digits_cnn' would get 1,000,001"):
        check_classes("digits_cnn", _npz(tmp_path, y_train=y))
