"""Datasets: scikit-learn's digits (ships with the package), generated data, user .npz files, or a
``module:function`` returning the four arrays. Nothing is downloaded; .npz files load without pickle.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """Train/test arrays with integer class labels; ``fingerprint`` is a SHA-256 of their bytes."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    fingerprint: str = field(default="")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def fingerprint(arrays: tuple[np.ndarray, ...]) -> str:
    """SHA-256 over dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _finish(name: str, x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> Dataset:
    arrays = [np.asarray(a) for a in (x_train, y_train, x_test, y_test)]
    for key, a in zip(NPZ_KEYS, arrays, strict=True):
        if a.dtype == object:
            raise DataError(f"dataset '{name}': {key} has dtype object; give numeric arrays")
    xtr, ytr, xte, yte = arrays
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise DataError(
            f"dataset '{name}': x/y lengths differ (train {len(xtr)} vs {len(ytr)}, test {len(xte)} vs {len(yte)})"
        )
    if len(xtr) == 0 or len(xte) == 0:
        raise DataError(f"dataset '{name}': train and test splits must both be non-empty")
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataError(f"dataset '{name}': x_train samples are {xtr.shape[1:]} but x_test samples are {xte.shape[1:]}")
    for key, y in (("y_train", ytr), ("y_test", yte)):
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot: accept and convert
            continue
        if y.ndim > 1 and not (y.ndim == 2 and y.shape[1] == 1):
            raise DataError(f"dataset '{name}': {key} must be class indices (N,) or one-hot (N, C), got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
            raise DataError(f"dataset '{name}': {key} must hold integer class indices")
    ytr = ytr.argmax(1) if ytr.ndim == 2 and ytr.shape[1] > 1 else ytr.reshape(-1)
    yte = yte.argmax(1) if yte.ndim == 2 and yte.shape[1] > 1 else yte.reshape(-1)
    xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    if min(ytr.min(), yte.min()) < 0:
        raise DataError(f"dataset '{name}': labels must be >= 0")
    return Dataset(name, xtr, ytr, xte, yte, fingerprint((xtr, ytr, xte, yte)))


def _digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]  # (N, 8, 8, 1) in [0, 1]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction, random_state=seed, stratify=d.target)
    return _finish("digits", xtr, ytr, xte, yte)


def _synthetic(
    shape: tuple[int, ...] | list[int] = (32, 32, 3), classes: int = 10, train: int = 256, test: int = 64, seed: int = 0
) -> Dataset:
    """Learnable generated images: each class is a fixed random pattern plus noise."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    patterns = rng.uniform(0, 1, size=(classes, *shape)).astype(np.float32)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, size=n)
        x = 0.6 * patterns[y] + 0.4 * rng.uniform(0, 1, size=(n, *shape)).astype(np.float32)
        return x, y

    xtr, ytr = draw(train)
    xte, yte = draw(test)
    return _finish("synthetic", xtr, ytr, xte, yte)


def _npz(path: Path) -> Dataset:
    if not path.is_file():
        raise DataError(f"dataset file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in NPZ_KEYS if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {missing}; an .npz dataset needs {list(NPZ_KEYS)}")
            arrays = [f[k] for k in NPZ_KEYS]
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path}: holds pickled objects, which are never loaded; save plain numeric arrays") from None
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    return _finish(path.name, *arrays)


def _callable(ref: str, args: dict[str, Any]) -> Dataset:
    module_name, _, func_name = ref.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"dataset '{ref}': cannot import ({exc}); use 'package.module:function'") from None
    result = func(**args)
    if isinstance(result, dict):
        result = tuple(result[k] for k in NPZ_KEYS)
    if not isinstance(result, tuple | list) or len(result) != 4:
        raise DataError(f"dataset '{ref}': must return (x_train, y_train, x_test, y_test)")
    return _finish(ref, *result)


BUILTIN = {"digits": _digits, "synthetic": _synthetic}


def load_dataset(name: str, args: dict[str, Any] | None = None, root: Path | None = None) -> Dataset:
    """Load a dataset by built-in name, .npz path (relative to ``root``) or ``module:function``."""
    args = dict(args or {})
    if name in BUILTIN:
        try:
            return BUILTIN[name](**args)  # type: ignore[operator]
        except TypeError as exc:
            raise DataError(f"dataset '{name}': bad dataset_args ({exc})") from None
    if name.endswith(".npz"):
        path = Path(name) if Path(name).is_absolute() or root is None else root / name
        return _npz(path)
    if ":" in name and not name.endswith(".npz"):
        return _callable(name, args)
    raise DataError(f"unknown dataset '{name}'; use one of {sorted(BUILTIN)}, a path to an .npz, or 'module:function'")
