"""Data, models and a user metric for the worked task examples: ``regression_mae.yaml`` (a regressor with an
MAE budget), ``two_outputs.yaml`` (a model with a regression and a classification head) and
``user_metric.yaml`` (the regressor ranked by a metric of your own).

The datasets are ``module:function`` datasets (``dataset: experiments.example_tasks:regression_data``), made
here from a seed: no download. The models are "yours": make them once, from the project root, with

    python -c "import experiments.example_tasks as e; e.make_models()"

which trains and saves ``models/regressor.keras`` and ``models/two_outputs.keras`` (a few seconds each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 8


def _inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, FEATURES)).astype(np.float32)


def _targets(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A smooth value in [10, 30] and a 3-way class, both functions of the same features."""
    w = np.linspace(-1.0, 1.0, FEATURES, dtype=np.float32)
    value = 20.0 + 10.0 * np.tanh(x @ w / 2.0)
    kind = np.digitize(x[:, 0] + x[:, 1], [-0.7, 0.7])
    return value.astype(np.float32), kind.astype(np.int64)


def regression_data(train: int = 512, test: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """``x`` (N, 8) -> a real value in [10, 30] (its unit: say, degrees)."""
    rng = np.random.default_rng(seed)
    x_train, x_test = _inputs(rng, train), _inputs(rng, test)
    return {"x_train": x_train, "y_train": _targets(x_train)[0], "x_test": x_test, "y_test": _targets(x_test)[0]}


def two_output_data(train: int = 512, test: int = 128, seed: int = 0) -> dict[str, Any]:
    """``x`` (N, 8) -> {"value": a real value, "kind": a class in 0..2}: labels per model output, by name."""
    rng = np.random.default_rng(seed)
    x_train, x_test = _inputs(rng, train), _inputs(rng, test)
    (v_tr, k_tr), (v_te, k_te) = _targets(x_train), _targets(x_test)
    return {"x_train": x_train, "y_train": {"value": v_tr, "kind": k_tr},
            "x_test": x_test, "y_test": {"value": v_te, "kind": k_te}}


def within_10_percent(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """A user metric: the fraction of predictions within 10% of the label (higher is better)."""
    true, pred = np.asarray(y_true, np.float64).reshape(-1), np.asarray(y_pred, np.float64).reshape(-1)
    return float(np.mean(np.abs(pred - true) <= 0.1 * np.abs(true)))


def make_models(out_dir: str | Path = "models", epochs: int = 30, seed: int = 0) -> dict[str, Path]:
    """Train and save the example models (``regressor.keras``, ``two_outputs.keras``) on the data above."""
    from workbench._keras import keras

    keras.utils.set_random_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reg = regression_data()
    inp = keras.Input((FEATURES,), name="features")
    h = keras.layers.Dense(32, activation="relu")(inp)
    regressor = keras.Model(inp, keras.layers.Dense(1, name="value")(h), name="regressor")
    regressor.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    regressor.fit(reg["x_train"], reg["y_train"], epochs=epochs, batch_size=32, verbose=0)

    two = two_output_data()
    inp = keras.Input((FEATURES,), name="features")
    h = keras.layers.Dense(32, activation="relu")(inp)
    model = keras.Model(inp, [keras.layers.Dense(1, name="value")(h), keras.layers.Dense(3, name="kind")(h)],
                        name="two_outputs")
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss={"value": "mse", "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    model.fit(two["x_train"], two["y_train"], epochs=epochs, batch_size=32, verbose=0)
    paths = {"regressor": out / "regressor.keras", "two_outputs": out / "two_outputs.keras"}
    regressor.save(paths["regressor"])
    model.save(paths["two_outputs"])
    return paths
