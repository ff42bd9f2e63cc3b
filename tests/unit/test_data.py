"""Datasets: built-ins, .npz files (never unpickled), clear errors."""

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.errors import DataError


def test_digits_split_is_deterministic_and_shaped():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.fingerprint == b.fingerprint
    assert a.input_shape == (8, 8, 1) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_test) == 1797
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


@pytest.mark.parametrize("test_fraction, seed", [(0.2, 0), (0.25, 7), (0.1, 3), (0.5, 123), (0.33, 42)])
def test_digits_are_scikit_learns_split_without_importing_it(test_fraction, seed):
    """The same arrays (so the same fingerprint and variant ids) as load_digits + train_test_split(stratify=y)."""
    from workbench.data import _digits, _digits_sklearn

    ours, theirs = _digits(test_fraction, seed), _digits_sklearn(test_fraction, seed)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(ours, key), getattr(theirs, key)
        assert a.dtype == b.dtype and np.array_equal(a, b), key
    assert ours.fingerprint == theirs.fingerprint


def test_digits_load_without_scikit_learn():
    """scikit-learn (with SciPy and pandas) is not imported to load digits: 2 s in every process that plans one."""
    import subprocess
    import sys

    code = "import sys; from workbench.data import load_dataset; load_dataset('digits'); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_digits_split_scikit_learn_refuses_is_still_refused():
    with pytest.raises(DataError, match="digits"):
        load_dataset("digits", {"test_fraction": 0.001})


def test_npz_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "d.npz"
    np.savez(p, x_train=rng.random((20, 4, 4, 1)), y_train=rng.integers(0, 3, 20),
             x_test=rng.random((5, 4, 4, 1)), y_test=rng.integers(0, 3, 5))
    ds = load_dataset(str(p))
    assert ds.input_shape == (4, 4, 1) and len(ds.x_test) == 5
    assert ds.x_train.dtype == np.float32


def test_npz_with_pickled_objects_is_refused(tmp_path):
    p = tmp_path / "evil.npz"
    obj = np.empty(2, dtype=object)
    np.savez(p, x_train=obj, y_train=obj, x_test=obj, y_test=obj)
    with pytest.raises(DataError, match="pickled objects"):
        load_dataset(str(p))


def test_npz_missing_key(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x_train=np.zeros((2, 2)))
    with pytest.raises(DataError, match="missing array"):
        load_dataset(str(p))


def test_corrupt_npz(tmp_path):
    p = tmp_path / "d.npz"
    p.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(str(p))


def test_unknown_dataset_lists_choices():
    with pytest.raises(DataError, match="digits"):
        load_dataset("imagenet")


def test_digits_as_larger_colour_images_for_an_image_model():
    """``size: 96, channels: 3``: the same split, every pixel a 12x12 square, the grey value in each channel."""
    small = load_dataset("digits")
    big = load_dataset("digits", {"size": 96, "channels": 3})
    assert big.x_train.shape == (len(small.x_train), 96, 96, 3) and big.x_test.shape[1:] == (96, 96, 3)
    np.testing.assert_array_equal(big.y_test, small.y_test)
    np.testing.assert_array_equal(big.x_test[:, ::12, ::12, 0], small.x_test[..., 0])
    np.testing.assert_array_equal(big.x_test[:, 5:17, 13, 2], np.repeat(small.x_test[:, 0:2, 1, 0], 12, axis=1)[:, 5:17])
    assert big.fingerprint != small.fingerprint


@pytest.mark.parametrize("args,words", [({"size": 90}, "size: 90 is not a multiple of 8"),
                                        ({"size": 4}, "size: 4 is not a multiple of 8"),
                                        ({"channels": 2}, "channels: 2; give 1 (grey) or 3"),
                                        ({"colour": 3}, "bad dataset_args")])
def test_digits_size_and_channels_are_checked(args, words):
    import re

    with pytest.raises(DataError, match=re.escape(words)):
        load_dataset("digits", args)


def test_npz_inputs_need_only_x_train_one_array_or_one_per_input(tmp_path):
    """``quantize --data``: a model's inputs, no labels, no test split; checked as a dataset's .npz."""
    from workbench.data import npz_inputs

    x = np.zeros((5, 8, 8, 1), np.float32)
    np.savez(tmp_path / "one.npz", x_train=x)
    assert npz_inputs(tmp_path / "one.npz", "d").shape == (5, 8, 8, 1)
    np.savez(tmp_path / "two.npz", x_train_image=x, x_train_numbers=np.ones((5, 4), np.float32))
    two = npz_inputs(tmp_path / "two.npz", "d")
    assert sorted(two) == ["image", "numbers"] and two["numbers"].shape == (5, 4)
    np.savez(tmp_path / "both.npz", x_train=x, x_train_image=x)
    with pytest.raises(DataError, match="holds both x_train and x_<split>_<input>"):
        npz_inputs(tmp_path / "both.npz", "d")
    np.savez(tmp_path / "text.npz", x_train=np.array(["a", "b"]))
    with pytest.raises(DataError, match="give numeric samples"):
        npz_inputs(tmp_path / "text.npz", "d")
