"""A user's model file measured as given (issue 17): the float32 variant's accuracy is the model's own, also for
integer and token (Embedding) inputs; the run says whether the float reference was retrained."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FAST_TARGET


def _experiment(root: Path, model: str, dataset: str, training: str = "") -> Path:
    text = textwrap.dedent(f"""\
        name: given
        baseline: {{model: {model}, dataset: {dataset}{training}}}
        calibration_samples: 20
        """) + FAST_TARGET + "variants: [{name: float32, quantization: float32}]\n"
    path = root / "e.yaml"
    path.write_text(text)
    return path


def _float32_accuracy(root: Path, exp: Path) -> tuple[float, Any]:
    """The float32 variant's accuracy as the sweep computes it (LiteRT, on the test split), and its context."""
    from workbench.variant.build import compress_variant, convert_variant
    from workbench.variant.context import prepare_variant
    from workbench.variant.evaluate import evaluate_variant

    ctx = prepare_variant(exp, "float32", work_dir=root / ".wb", root=root, track=False)
    compressed = compress_variant(ctx)
    exported = convert_variant(ctx, compressed)
    return evaluate_variant(ctx, exported, compressed).metrics["accuracy"], ctx


def _keras_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def test_user_keras_is_measured_as_given(tmp_path: Path, digits: Any) -> None:
    """A .keras trained to a known accuracy: float32's accuracy is the model's own evaluation (to 1e-4), not a
    retrained model's."""
    from workbench._keras import keras
    from workbench.models import seed_everything

    seed_everything(1)
    model = keras.Sequential([keras.layers.Input(digits.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(digits.x_train, digits.y_train, epochs=1, batch_size=256, verbose=0)  # deliberately undertrained
    own = _keras_accuracy(model, digits.x_test, digits.y_test)
    model.save(tmp_path / "m.keras")

    acc, ctx = _float32_accuracy(tmp_path, _experiment(tmp_path, "m.keras", "digits"))
    assert abs(acc - own) <= 1e-4, (acc, own)
    assert abs(ctx.baseline.accuracy - own) <= 1e-4
    assert ctx.baseline.history == {}  # nothing trained
    assert ctx.experiment.baseline.training_words() == "your model, not retrained"


def test_user_keras_retrained_only_when_asked(tmp_path: Path, digits: Any) -> None:
    from workbench._keras import keras

    model = keras.Sequential([keras.layers.Input(digits.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "m.keras")
    _, ctx = _float32_accuracy(tmp_path, _experiment(tmp_path, "m.keras", "digits",
                                                     ", training: {epochs: 1, batch_size: 128}"))
    assert len(ctx.baseline.history["loss"]) == 1
    assert ctx.experiment.baseline.training_words() == "retrained 1 epoch from your weights"


def _tokens(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of 6 token ids (0..19); the class is which third of the vocabulary the first token falls in."""
    x = rng.integers(0, 20, size=(n, 6))
    return x, np.minimum(x[:, 0] // 7, 2)


def _token_data(root: Path) -> Any:
    rng = np.random.default_rng(0)
    (xtr, ytr), (xte, yte) = _tokens(300, rng), _tokens(100, rng)
    np.savez(root / "tokens.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return xte, yte


@pytest.mark.parametrize("kind", ["cast", "embedding"])
def test_integer_input_models_score_what_keras_scores(tmp_path: Path, kind: str) -> None:
    """An int32 input (cast, then Dense) and an Embedding: float32's accuracy equals Keras's on the same split."""
    from workbench._keras import keras
    from workbench.models import seed_everything

    x_test, y_test = _token_data(tmp_path)
    seed_everything(0)
    inp = keras.layers.Input((6,), dtype="int32", name="tokens")
    if kind == "cast":
        h = keras.layers.Dense(16, activation="relu")(keras.layers.Rescaling(1 / 19)(inp))
    else:
        h = keras.layers.Flatten()(keras.layers.Embedding(20, 4)(inp))
    model = keras.Model(inp, keras.layers.Dense(3)(h))
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    xtr, ytr = _tokens(300, np.random.default_rng(0))
    model.fit(xtr, ytr, epochs=15, batch_size=32, verbose=0)
    own = _keras_accuracy(model, x_test, y_test)
    assert own > 0.6  # learned something: a wrong feed would show
    model.save(tmp_path / "m.keras")

    acc, ctx = _float32_accuracy(tmp_path, _experiment(tmp_path, "m.keras", "tokens.npz"))
    assert abs(acc - own) <= 1e-4, (acc, own)


def test_a_diverged_baseline_is_refused_in_one_line_and_recorded(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs scaled ×1e30 (finite) train a zoo model to NaN: refused before any variant is measured, and every
    later variant of the same baseline is refused from the record without training again."""
    from workbench.errors import DataError
    from workbench.variant.context import prepare_variant

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "huge.npz", x_train=rng.uniform(size=(64, 8, 8, 1)) * 1e30, y_train=np.arange(64) % 4,
             x_test=rng.uniform(size=(16, 8, 8, 1)) * 1e30, y_test=np.arange(16) % 4)
    exp = _experiment(tmp_path, "digits_cnn", "huge.npz", ", model_args: {width: 0.25, dense: 8}, "
                      "training: {epochs: 1, batch_size: 16}")
    with pytest.raises(DataError) as first:
        prepare_variant(exp, "float32", work_dir=tmp_path / ".wb", root=tmp_path, track=False)
    line = str(first.value)
    assert "\n" not in line and "the float baseline diverged in training" in line and "x_train spans" in line
    assert not list((tmp_path / ".wb" / "baselines").glob("*/baseline.json"))  # no cache of it
    monkeypatch.setattr("workbench.models.train_baseline", lambda *a: pytest.fail("trained again"))
    with pytest.raises(DataError) as again:
        prepare_variant(exp, "float32", work_dir=tmp_path / ".wb", root=tmp_path, track=False)
    assert str(again.value) == line


def test_a_model_file_with_nan_weights_is_refused(tmp_path: Path, digits: Any) -> None:
    from workbench._keras import keras
    from workbench.errors import DataError
    from workbench.variant.context import prepare_variant

    model = keras.Sequential([keras.layers.Input(digits.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    kernel, bias = model.layers[-1].get_weights()
    kernel[3, 2] = np.nan
    model.layers[-1].set_weights([kernel, bias])
    model.save(tmp_path / "m.keras")
    with pytest.raises(DataError, match=r"model file m.keras: weight .*kernel.* holds NaN or Inf values"):
        prepare_variant(_experiment(tmp_path, "m.keras", "digits"), "float32", work_dir=tmp_path / ".wb",
                        root=tmp_path, track=False)


def test_layers_pruning_cannot_reach_are_named(digits: Any) -> None:
    """A backbone nested inside the user's model: pruning rewrites the top level only, and says what it left."""
    from workbench._keras import keras
    from workbench.compress.prune import apply_prune
    from workbench.spec import TrainingSpec
    from workbench.spec.steps import PruneSpec

    backbone = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(8, name="inner_dense")], name="backbone")
    inp = keras.layers.Input(digits.input_shape)
    model = keras.Model(inp, keras.layers.Dense(10, name="head")(backbone(inp)))
    small = type(digits)("digits", digits.x_train[:64], digits.y_train[:64], digits.x_test[:16], digits.y_test[:16])
    result = apply_prune(model, PruneSpec(sparsity=0.5, epochs=1), small, TrainingSpec(batch_size=32))
    assert result.facts["pruned_layers"] == ["head"]
    assert result.notes == ("prune did not reach the 1 layer(s) inside the nested model 'backbone' (inner_dense): "
                            "only top-level layers are rewritten, so they are unchanged",)


def test_an_image_folder_is_sized_by_the_model_and_recorded(tmp_path: Path) -> None:
    """Images of 16x16 RGB in one folder per class, a model taking 8x8x1: resized and made grayscale as the model
    says, float32 scores what Keras scores on the same arrays, and the choices are in the run's notes."""
    from tests.unit.test_image_folder import make_folder
    from workbench._keras import keras

    make_folder(tmp_path / "imgs", {"a": 6, "b": 6, "c": 6}, size=(16, 16))
    model = keras.Sequential([keras.layers.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.save(tmp_path / "m.keras")
    acc, ctx = _float32_accuracy(tmp_path, _experiment(tmp_path, "m.keras", "imgs"))
    assert ctx.dataset.x_test.shape[1:] == (8, 8, 1)
    assert abs(acc - _keras_accuracy(model, ctx.dataset.x_test, ctx.dataset.y_test)) <= 1e-4
    assert "read as grayscale, resized to 8x8 (bilinear), pixel values scaled to 0..1" in ctx.dataset.notes[0]
