"""A user's model file measured as given (issue 17): the float32 variant's accuracy is the model's own, also for
integer and token (Embedding) inputs; the run says whether the float reference was retrained."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

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
