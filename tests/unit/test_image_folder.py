"""An image-folder dataset (one sub-folder per class): read with Pillow, resized and scaled as the model's input
says (or as dataset_args say), the choices recorded in the dataset's note; bad folders refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.unit.test_fit import keras_file, sequential
from workbench.data import load_dataset
from workbench.errors import DataError
from workbench.model_files import check_model_file
from workbench.variant.inputs import model_input_shape


def make_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (12, 10), mode: str = "RGB") -> Path:
    """``classes`` name -> image count; each class's images are a flat gray level (class i: 40 * (i + 1))."""
    for i, (name, n) in enumerate(sorted(classes.items())):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            level = 40 * (i + 1)
            Image.new(mode, (size[1], size[0]), level if mode == "L" else (level, level, level)).save(
                root / name / f"{k}.png")
    return root


def test_classes_are_subfolders_split_per_class_and_scaled(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", {"cat": 5, "dog": 5, "owl": 5})
    ds = load_dataset("imgs", root=tmp_path)
    assert ds.x_train.shape[1:] == (12, 10, 3) and len(ds.x_train) + len(ds.x_test) == 15
    assert sorted(np.bincount(ds.y_test).tolist()) == [1, 1, 1]  # stratified: each class gives its share
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    level = ds.x_train[ds.y_train == 1][0, 0, 0, 0]  # dog: gray 80 of 255
    assert level == pytest.approx(80 / 255)
    assert ds.notes == ("image folder imgs: 15 images, classes cat=0, dog=1, owl=2; read as RGB, resized to 12x10 "
                        "(bilinear), pixel values scaled to 0..1; a seeded 0.2 test split per class (seed 0)",)
    assert load_dataset("imgs", root=tmp_path).fingerprint == ds.fingerprint


def test_the_model_input_decides_size_and_channels(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs", {"a": 3, "b": 3}, size=(20, 20))
    model = check_model_file(keras_file(tmp_path / "m.keras", sequential([8, 8, 1], 2)))
    ds = load_dataset("imgs", {"scale": "-1..1"}, tmp_path, model_input_shape(model))
    assert ds.x_train.shape[1:] == (8, 8, 1)
    assert ds.x_train.min() >= -1 and ds.x_train.max() <= 1
    assert "read as grayscale, resized to 8x8 (bilinear), pixel values scaled to -1..1" in ds.notes[0]


def test_train_and_test_folders_are_kept(tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs" / "train", {"a": 4, "b": 4})
    make_folder(tmp_path / "imgs" / "test", {"a": 2, "b": 1})
    ds = load_dataset("imgs", {"image_size": [6, 6]}, tmp_path)
    assert (len(ds.x_train), len(ds.x_test)) == (8, 3) and ds.x_test.shape[1:] == (6, 6, 3)
    assert ds.notes[0].endswith("train/ and test/ folders")


@pytest.mark.parametrize("make, args, message", [
    (lambda p: p.mkdir(), {}, "has no sub-folders; an image-folder dataset has one sub-folder per class"),
    (lambda p: (make_folder(p, {"a": 2}), (p / "b").mkdir()), {}, "class folder 'b' holds no images"),
    (lambda p: (make_folder(p, {"a": 2, "b": 2}), (p / "b" / "bad.png").write_bytes(b"not a png")), {},
     "cannot read image"),
    (lambda p: make_folder(p, {"a": 2, "b": 2}), {"scale": "0..2"}, "scale '0..2' is not one of 0..1, -1..1, 0..255"),
    (lambda p: make_folder(p, {"a": 2, "b": 2}), {"size": 3}, "bad dataset_args"),
])
def test_bad_image_folders_are_one_line(tmp_path: Path, make, args, message) -> None:
    make(tmp_path / "imgs")
    with pytest.raises(DataError) as info:
        load_dataset("imgs", args, tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)
