"""A Keras model with two inputs, its data an .npz keyed by input name: each runtime is fed every input by name
and its float32 outputs are the Keras model's (to 1e-4); int8 calibration feeds both inputs (LiteRT and ONNX
Runtime); the variant cells run it as given; an unlabeled dataset gets fidelity as its primary metric."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FAST_TARGET
from workbench.data import feed, load_dataset


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, Any, Any]:
    """A trained two-input model (``image`` 8x8x1, ``numbers`` 4) saved as .keras, and its .npz dataset."""
    import importlib.util

    from tests.conftest import REPO
    from workbench._keras import keras

    spec = importlib.util.spec_from_file_location("example_data", REPO / "experiments" / "example_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("two")
    arrays = module.two_input_arrays(train=160, test=40)
    np.savez(root / "d.npz", **arrays)
    keras.utils.set_random_seed(0)
    image, numbers = keras.Input((8, 8, 1), name="image"), keras.Input((4,), name="numbers")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(image), keras.layers.Dense(8, activation="relu")(numbers)])
    model = keras.Model([image, numbers], keras.layers.Dense(3)(keras.layers.Dense(16, activation="relu")(h)))
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"image": arrays["x_train_image"], "numbers": arrays["x_train_numbers"]}, arrays["y_train"],
              epochs=5, verbose=0)
    model.save(root / "m.keras")
    return root, model, load_dataset("d.npz", root=root)


def test_every_runtime_feeds_both_inputs_by_name(two, tmp_path: Path) -> None:
    from workbench.convert import convert
    from workbench.convert.onnx import convert_onnx
    from workbench.runtime_model import predict_on

    _, model, ds = two
    want = model.predict(feed(ds.x_test), verbose=0)
    (tmp_path / "m.tflite").write_bytes(convert(model, "float32"))
    (tmp_path / "m.onnx").write_bytes(convert_onnx(model, "float32"))
    for runtime, file in (("litert", "m.tflite"), ("onnxruntime", "m.onnx"), ("openvino", "m.tflite")):
        got = predict_on(runtime, tmp_path / file, ds.x_test)
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=runtime)
    calib = ds.x_train[:32]  # int8: the calibration samples reach both inputs
    (tmp_path / "q.tflite").write_bytes(convert(model, "int8", calib))
    (tmp_path / "q.onnx").write_bytes(convert_onnx(model, "int8", calib))
    for runtime, file in (("litert", "q.tflite"), ("onnxruntime", "q.onnx"), ("openvino", "q.tflite")):
        got = predict_on(runtime, tmp_path / file, ds.x_test)
        assert np.mean(np.argmax(got, 1) == np.argmax(want, 1)) >= 0.9, runtime


def _run_float32(root: Path, dataset: str, extra: str = "") -> dict[str, float]:
    from workbench.variant.build import compress_variant, convert_variant
    from workbench.variant.context import prepare_variant
    from workbench.variant.evaluate import evaluate_variant

    (root / "e.yaml").write_text(textwrap.dedent(f"""\
        name: two
        baseline: {{model: m.keras, dataset: {dataset}}}
        calibration_samples: 20
        """) + extra + FAST_TARGET + "variants: [{name: float32, quantization: float32}]\n")
    ctx = prepare_variant(root / "e.yaml", "float32", work_dir=root / ".wb", root=root, track=False)
    compressed = compress_variant(ctx)
    return evaluate_variant(ctx, convert_variant(ctx, compressed), compressed).metrics


def test_the_variant_cells_measure_the_two_input_model_as_given(two) -> None:
    root, model, ds = two
    metrics = _run_float32(root, "d.npz")
    keras_acc = float(np.mean(np.argmax(model.predict(feed(ds.x_test), verbose=0), 1) == ds.y_test))
    assert abs(metrics["accuracy"] - keras_acc) <= 1e-4 and metrics["snr_db"] > 60


def test_unlabeled_inputs_rank_by_fidelity(two) -> None:
    root, _, ds = two
    np.savez(root / "u.npz", **{f"x_{s}_{n}": ds.x_train[n] if s == "train" else ds.x_test[n]
                                for s in ("train", "test") for n in ds.input_names})
    metrics = _run_float32(root, "u.npz", "task: {kind: fidelity}\nbudgets: {worst: {snr_db: 30}}\n")
    assert "accuracy" not in metrics and metrics["snr_db"] > 60 and metrics["cosine_similarity"] > 0.9999


def test_per_layer_int8_sensitivity_feeds_both_inputs(two) -> None:
    """The sensitivity behind keep_float (selective int8) runs the two-input model on every input."""
    from workbench.analysis.sensitivity import quant_sensitivity
    from workbench.convert import convert

    _, model, ds = two
    rows = quant_sensitivity(convert(model, "float32"), convert(model, "int8", ds.x_train[:32]), ds.x_test[:16])
    assert rows and all(np.isfinite(r["rmse"]) for r in rows)  # one row per quantized layer
