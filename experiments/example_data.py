"""Data and models for the worked data examples: ``two_inputs.yaml`` (a model with an image input and a numeric
input, its data an .npz keyed by the model's input names), ``image_folder.yaml`` (your trained ``.keras``,
kept as given, measured on a folder of images with one sub-folder per class) and ``unlabeled.yaml`` (the same
model on a folder of images without labels, ranked by fidelity to the float model).

Everything is made here from scikit-learn's digits and a seed: no download. Make the files once, from the
project root, with

    python -c "import experiments.example_data as e; e.make_all()"

which writes ``data/two_inputs.npz``, ``data/digit_images/<class>/*.png``, ``data/unlabeled_images/*.png`` and
trains ``models/two_inputs.keras`` and ``models/digits.keras`` (a few seconds each).

The .npz of a model with several inputs holds one array per input and split, named after the model's input:
``x_train_image``, ``x_train_numbers``, ``x_test_image``, ``x_test_numbers``, and the labels ``y_train``,
``y_test`` (see docs/datasets.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

NUMBERS = 4  # the numeric input's width


def _digits(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` digits of each class (8x8 in 0..16) and their labels, a seeded draw."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(d.target == c))[:per_class] for c in range(10)])
    return d.images[idx], d.target[idx]


def two_input_arrays(train: int = 480, test: int = 120, seed: int = 0) -> dict[str, np.ndarray]:
    """An image input (8x8x1 digits of classes 0..2) and a numeric input (4 values) whose first value also
    carries the class: the .npz of ``two_inputs.yaml``, keyed ``x_<split>_<input>``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.flatnonzero(d.target < 3)
    rng = np.random.default_rng(seed)
    idx = rng.choice(keep, size=train + test, replace=len(keep) < train + test)
    image = (d.images[idx] / 16.0).astype(np.float32)[..., None]
    y = d.target[idx].astype(np.int64)
    numbers = rng.normal(size=(len(idx), NUMBERS)).astype(np.float32)
    numbers[:, 0] += y - 1.0
    out: dict[str, np.ndarray] = {}
    for split, part in (("train", slice(0, train)), ("test", slice(train, train + test))):
        out[f"x_{split}_image"], out[f"x_{split}_numbers"], out[f"y_{split}"] = image[part], numbers[part], y[part]
    return out


def write_images(folder: str | Path, per_class: int = 12, seed: int = 0, classes: bool = True) -> Path:
    """Digits as 8x8 grayscale PNGs: ``<folder>/<class>/<n>.png`` (``classes``) or ``<folder>/<n>.png``."""
    from PIL import Image

    out = Path(folder)
    images, labels = _digits(per_class, seed)
    for n, (img, label) in enumerate(zip(images, labels, strict=True)):
        where = out / str(label) if classes else out
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(img * 255 / 16).astype(np.uint8)).save(where / f"{n:04d}.png")
    return out


def make_models(out_dir: str | Path = "models", data_dir: str | Path = "data", epochs: int = 20,
                seed: int = 0) -> dict[str, Path]:
    """Write the example data into ``data_dir`` and train and save ``two_inputs.keras`` and ``digits.keras``
    into ``out_dir``: "your" models, which the examples measure as given."""
    from workbench._keras import keras
    from workbench.data import load_dataset

    keras.utils.set_random_seed(seed)
    out, data = Path(out_dir), Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    arrays = two_input_arrays(seed=seed)
    np.savez(data / "two_inputs.npz", **arrays)
    write_images(data / "digit_images", seed=seed)
    write_images(data / "unlabeled_images", per_class=4, seed=seed + 1, classes=False)

    image = keras.Input((8, 8, 1), name="image")
    numbers = keras.Input((NUMBERS,), name="numbers")
    a = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(image))
    b = keras.layers.Dense(8, activation="relu")(numbers)
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([a, b]))
    two = keras.Model([image, numbers], keras.layers.Dense(3, name="kind")(h), name="two_inputs")
    two.compile(optimizer=keras.optimizers.Adam(0.01),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    two.fit({"image": arrays["x_train_image"], "numbers": arrays["x_train_numbers"]}, arrays["y_train"],
            epochs=epochs, batch_size=32, verbose=0)

    folder = load_dataset(str(data / "digit_images"), {"image_size": [8, 8], "channels": 1})
    digits = keras.Sequential([keras.Input((8, 8, 1), name="pixels"), keras.layers.Flatten(),
                               keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)], name="digits")
    digits.compile(optimizer=keras.optimizers.Adam(0.01),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    digits.fit(folder.x_train, folder.y_train, epochs=epochs, batch_size=16, verbose=0)
    paths = {"two_inputs": out / "two_inputs.keras", "digits": out / "digits.keras"}
    two.save(paths["two_inputs"])
    digits.save(paths["digits"])
    return paths


def make_all(root: str | Path = ".", **kwargs: Any) -> dict[str, Path]:
    """Every file the three examples read, under the project ``root``."""
    r = Path(root)
    return make_models(r / "models", r / "data", **kwargs)
