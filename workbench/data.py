"""Datasets: scikit-learn's digits (ships with the package), generated data, user .npz files, a folder of
images with one sub-folder per class, or a ``module:function`` returning the four arrays. Nothing is downloaded; .npz files load without pickle.

A model with several inputs takes one array per input, by the model's input name: in an .npz
``x_train_<input>`` / ``x_test_<input>`` (e.g. ``x_train_image``, ``x_train_numbers``), from a function
``x_train`` / ``x_test`` as dicts ``{input name: array}``. The Dataset packs them into a structured array with a
field per input (``x_test["image"]``), so samples keep one axis that slices, draws and fingerprints as one array;
``feed`` hands a model the arrays by name. Data without labels (a ``fidelity`` task: ``labels="none"``) needs
only the inputs: an .npz without ``y_*``, or a folder of images without class sub-folders.

Every dataset passes the same checks (``_finish``) before anything trains on it: numeric, finite,
non-empty, one label per sample, at least two classes, test labels within the training classes. A
failure is one DataError line naming the dataset, the array, what is wrong, where, and what to do.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import DataError, WorkbenchError
from workbench.files import refuse_special
from workbench.images import read_folder

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_KIND_NAMES = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers", "M": "datetimes",
               "m": "time deltas", "V": "raw records"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class Dataset:
    """Train/test arrays and their labels; ``fingerprint`` is a SHA-256 of their bytes. ``labels`` says what the
    labels are (the experiment's task decides): ``classes`` (int64 class indices), ``values`` (float32 targets,
    (N, ...)), ``outputs`` (a structured array, one float32 field per model output: ``y_test["age"]``) or ``none``
    (no labels: ``y_*`` are empty (N, 0) arrays; the variants are ranked by fidelity to the float model). Inputs
    for a model with several inputs are a structured array, one float32 field per input (``input_names``)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    fingerprint: str = field(default="")
    label_columns: int = 0  # the classes one-hot labels declared (their columns); 0 for class indices
    notes: tuple[str, ...] = ()  # how the data was made from the files (an image folder's size, scale, classes)
    labels: str = "classes"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model inputs the samples are keyed by (one field per input); () for one unnamed array."""
        return tuple(self.x_train.dtype.names or ())

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each input's sample shape by name (``{"": input_shape}`` for one unnamed array)."""
        if not self.input_names:
            return {"": self.input_shape}
        return {n: tuple(int(d) for d in self.x_train.dtype[n].shape) for n in self.input_names}


def feed(x: np.ndarray) -> np.ndarray | dict[str, np.ndarray]:
    """Samples as a model takes them: the array itself, or, for several inputs, ``{input name: (N, ...) array}``."""
    names = x.dtype.names
    return {n: np.ascontiguousarray(x[n]) for n in names} if names else x


def pack(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Arrays of the same length (N, ...) as one structured array of N records, a field per key."""
    n = len(next(iter(arrays.values())))
    packed = np.empty(n, dtype=[(str(k), a.dtype, a.shape[1:]) for k, a in arrays.items()])
    for k, a in arrays.items():
        packed[str(k)] = a
    return packed


def value_range(x: np.ndarray) -> tuple[float, float]:
    """The smallest and largest input value (over every input of a structured array)."""
    parts = [x[n] for n in x.dtype.names] if x.dtype.names else [x]
    return min(float(np.min(p)) for p in parts), max(float(np.max(p)) for p in parts)


def fingerprint(arrays: tuple[np.ndarray, ...]) -> str:
    """SHA-256 over dtype (a structured one: its fields too), shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.descr if a.dtype.names else a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _one_line(text: object, limit: int = 200) -> str:
    """``text`` with newlines folded, shortened to ``limit`` characters (error messages stay one line)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _numeric(name: str, key: str, value: Any) -> np.ndarray:
    """``value`` as a numeric array with a sample axis; DataError otherwise."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise DataError(f"dataset '{name}': {key} is not a regular array ({_one_line(exc, 120)}); "
                        "give samples of one shape") from None
    if a.dtype.kind not in _NUMERIC_KINDS:
        what = _KIND_NAMES.get(a.dtype.kind, "non-numeric values")
        raise DataError(f"dataset '{name}': {key} has dtype {a.dtype} ({what}); give numeric arrays "
                        f"(e.g. {key}.astype('float32'))")
    if a.ndim == 0:
        raise DataError(f"dataset '{name}': {key} is a single value, not an array of samples")
    if len(a) == 0:
        raise DataError(f"dataset '{name}': {key} is empty (0 samples); both splits need at least one sample")
    if a.size == 0:
        raise DataError(f"dataset '{name}': {key} has empty samples (shape {a.shape}); give samples with values")
    return a


def _check_finite(name: str, key: str, a: np.ndarray) -> None:
    """DataError naming the count of NaN/Inf values in ``a`` and the first sample holding one."""
    if a.dtype.kind != "f" or np.isfinite(np.sum(a, dtype=np.float64)):
        return  # the sum is finite only when every value is: one cheap pass for valid data
    bad = ~np.isfinite(a)
    if not bad.any():
        return  # the float64 sum overflowed; every value is finite
    n_nan = int(np.isnan(a).sum())
    n_inf = int(bad.sum()) - n_nan
    first = int(np.argmax(bad.reshape(len(a), -1).any(axis=1)))
    counts = " and ".join([_plural(n_nan, "NaN value")] * bool(n_nan) + [_plural(n_inf, "Inf value")] * bool(n_inf))
    raise DataError(f"dataset '{name}': {key} has {counts} (first at sample {first}); "
                    "replace or drop the non-finite samples")


def _labels(name: str, key: str, y: np.ndarray) -> np.ndarray:
    """Class indices (N,) from indices, (N, 1) or one-hot (N, C) labels; DataError on anything else."""
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise DataError(f"dataset '{name}': {key} must be class indices (N,) or one-hot (N, C), got shape {y.shape}")
    _check_finite(name, key, y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot: accept and convert; anything else is not one class per sample
        rows = (y == 0) | (y == 1)
        hot = np.count_nonzero(y == 1, axis=1)
        bad = ~rows.all(axis=1) | (hot != 1)
        if bad.any():
            first = int(np.argmax(bad))
            what = (f"{int(hot[first])} ones" if rows[first].all() else
                    f"the value {y[first][~rows[first]][0].item()!r}")
            raise DataError(f"dataset '{name}': {key} row {first} is not one-hot ({what}); multi-label or soft "
                            "labels cannot be scored as one class per sample: give class indices (0, 1, ...) or "
                            "rows with a single 1")
        return y.argmax(1)
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        flat = y.reshape(-1)
        first = int(np.argmax(np.mod(flat, 1) != 0))
        raise DataError(f"dataset '{name}': {key} holds the non-integer label {flat[first].item()!r} at sample {first}; "
                        "give class indices (0, 1, ...) or one-hot rows")
    return y.reshape(-1)


def _check_classes(name: str, ytr_in: np.ndarray, ytr: np.ndarray, yte_in: np.ndarray, yte: np.ndarray) -> None:
    """Labels are >= 0, training has two classes or more, and no test label lies beyond the training classes."""
    for key, y in (("y_train", ytr), ("y_test", yte)):
        if y.min() < 0:
            first = int(np.argmax(y < 0))
            raise DataError(f"dataset '{name}': {key} has the label {int(y[first])} at sample {first}; "
                            "labels are class indices starting at 0")
    classes = np.unique(ytr)
    if len(classes) < 2:
        raise DataError(f"dataset '{name}': y_train has a single class (label {int(classes[0])} on all "
                        f"{_plural(len(ytr), 'sample')}); a classifier needs at least two classes")
    one_hot_tr = ytr_in.ndim == 2 and ytr_in.shape[1] > 1
    one_hot_te = yte_in.ndim == 2 and yte_in.shape[1] > 1
    if one_hot_tr and one_hot_te and ytr_in.shape[1] != yte_in.shape[1]:
        raise DataError(f"dataset '{name}': y_train is one-hot with {ytr_in.shape[1]} columns but y_test with "
                        f"{yte_in.shape[1]}; give both splits the same classes")
    n_train = ytr_in.shape[1] if one_hot_tr else int(classes[-1]) + 1
    if yte.max() >= n_train:
        first = int(np.argmax(yte >= n_train))
        raise DataError(f"dataset '{name}': y_test has the label {int(yte[first])} at sample {first}, a class never "
                        f"seen in y_train (classes 0..{n_train - 1}); test labels must be training classes")


def _targets(name: str, key: str, y: Any, n: int) -> np.ndarray:
    """Real-valued labels (N, ...) as float32, or a dict of them (output -> (N, ...)) packed into a structured
    array with a field per output; DataError naming what does not fit."""
    if isinstance(y, dict):
        if not y:
            raise DataError(f"dataset '{name}': {key} is an empty dict; give one label array per model output")
        arrays = {str(k): _targets(name, f"{key}['{k}']", v, n) for k, v in y.items()}
        packed = np.empty(n, dtype=[(k, np.float32, a.shape[1:]) for k, a in arrays.items()])
        for k, a in arrays.items():
            packed[k] = a
        return packed
    a = _numeric(name, key, y)
    if len(a) != n:
        raise DataError(f"dataset '{name}': {key} has {_plural(len(a), 'label')} for {_plural(n, 'sample')}; "
                        "give one label per sample")
    with np.errstate(over="ignore"):
        a = a.astype(np.float32)
    _check_finite(name, key, a)
    return a


def _several_inputs(name: str, x_train: Any, x_test: Any, flat_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """Inputs given per model input (dicts input name -> array): each checked as one input's arrays, the same
    inputs in both splits and one sample count per split; packed into structured arrays (a field per input)."""
    if not (isinstance(x_train, Mapping) and isinstance(x_test, Mapping)):
        raise DataError(f"dataset '{name}': x_train and x_test must both be arrays, or both dicts input name -> "
                        "array (one array per model input)")
    if not x_train:
        raise DataError(f"dataset '{name}': x_train is an empty dict; give one array per model input")
    if set(x_train) != set(x_test):
        raise DataError(f"dataset '{name}': x_train has inputs {sorted(map(str, x_train))} but x_test "
                        f"{sorted(map(str, x_test))}; give every input in both splits")
    tr: dict[str, np.ndarray] = {}
    te: dict[str, np.ndarray] = {}
    for k in x_train:
        tr[str(k)], te[str(k)] = _inputs(name, x_train[k], x_test[k], flat_ok, f"_{k}")
    for split, arrays in (("train", tr), ("test", te)):
        counts = {k: len(a) for k, a in arrays.items()}
        if len(set(counts.values())) > 1:
            shown = ", ".join(f"{k} {n}" for k, n in counts.items())
            raise DataError(f"dataset '{name}': the inputs of x_{split} have different sample counts ({shown}); "
                            "give every input one row per sample")
    return pack(tr), pack(te)


def _inputs(name: str, x_train: Any, x_test: Any, flat_ok: bool = True,
            suffix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The two splits' inputs as float32, checked: numeric, finite, samples of one shape in both splits (with
    ``flat_ok`` False, at least one axis per sample). Several inputs (dicts): ``_several_inputs``."""
    if isinstance(x_train, Mapping) or isinstance(x_test, Mapping):
        return _several_inputs(name, x_train, x_test, flat_ok)
    ktr, kte = f"x_train{suffix}", f"x_test{suffix}"
    xtr, xte = _numeric(name, ktr, x_train), _numeric(name, kte, x_test)
    if not flat_ok:
        for key, x in ((ktr, xtr), (kte, xte)):
            if x.ndim < 2:
                raise DataError(f"dataset '{name}': {key} has shape {x.shape}, one number per sample; "
                                f"give (N, features...) arrays, e.g. {key}.reshape(-1, 1)")
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataError(f"dataset '{name}': {ktr} samples are {xtr.shape[1:]} but {kte} samples are "
                        f"{xte.shape[1:]}; give both splits samples of one shape")
    with np.errstate(over="ignore"):  # reported just below, as Inf values
        xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    _check_finite(name, ktr, xtr)  # after the cast: values beyond float32's range became Inf
    _check_finite(name, kte, xte)
    return xtr, xte


def _finish_unlabeled(name: str, x_train: Any, x_test: Any) -> Dataset:
    """Inputs without labels (a fidelity task): ``y_*`` are empty (N, 0) arrays; the inputs checked as always."""
    xtr, xte = _inputs(name, x_train, x_test)
    ytr, yte = np.zeros((len(xtr), 0), np.float32), np.zeros((len(xte), 0), np.float32)
    return Dataset(name, xtr, ytr, xte, yte, fingerprint((xtr, ytr, xte, yte)), labels="none")


def _finish_targets(name: str, x_train: Any, y_train: Any, x_test: Any, y_test: Any, labels: str) -> Dataset:
    """A regression or multi-output dataset: inputs checked as for classes, labels as values (``_targets``)."""
    if labels == "none":
        return _finish_unlabeled(name, x_train, x_test)
    xtr, xte = _inputs(name, x_train, x_test)
    if labels == "outputs" and not (isinstance(y_train, dict) and isinstance(y_test, dict)):
        raise DataError(f"dataset '{name}': a multi_output task needs y_train and y_test as dicts, output name -> "
                        "labels")
    if labels == "outputs" and set(y_train) != set(y_test):
        raise DataError(f"dataset '{name}': y_train has outputs {sorted(y_train)} but y_test {sorted(y_test)}")
    ytr, yte = _targets(name, "y_train", y_train, len(xtr)), _targets(name, "y_test", y_test, len(xte))
    return Dataset(name, xtr, ytr, xte, yte, fingerprint((xtr, ytr, xte, yte)), labels=labels)


def _finish(name: str, x_train: Any, y_train: Any, x_test: Any, y_test: Any, labels: str = "classes") -> Dataset:
    """Validate the four arrays and build the Dataset (float32 inputs, int64 labels, fingerprint); labels that
    are not classes: ``_finish_targets``."""
    if labels != "classes":
        return _finish_targets(name, x_train, y_train, x_test, y_test, labels)
    several = isinstance(x_train, Mapping) or isinstance(x_test, Mapping)
    if several:
        xtr, xte = _inputs(name, x_train, x_test, flat_ok=False)
    else:
        xtr, xte = _numeric(name, "x_train", x_train), _numeric(name, "x_test", x_test)
    ytr_in, yte_in = _numeric(name, "y_train", y_train), _numeric(name, "y_test", y_test)
    for split, x, y in (("train", xtr, ytr_in), ("test", xte, yte_in)):
        if len(x) != len(y):
            raise DataError(f"dataset '{name}': x_{split} has {_plural(len(x), 'sample')} but y_{split} has "
                            f"{_plural(len(y), 'label')}; give one label per sample")
    if not several:
        xtr, xte = _inputs(name, xtr, xte, flat_ok=False)
    ytr, yte = _labels(name, "y_train", ytr_in), _labels(name, "y_test", yte_in)
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    _check_classes(name, ytr_in, ytr, yte_in, yte)
    columns = ytr_in.shape[1] if ytr_in.ndim == 2 and ytr_in.shape[1] > 1 else 0
    return Dataset(name, xtr, ytr, xte, yte, fingerprint((xtr, ytr, xte, yte)), label_columns=columns)


def _digits(test_fraction: float = 0.2, seed: int = 0, size: int = 8, channels: int = 1) -> Dataset:
    """scikit-learn's digits, split as ``train_test_split(test_size=test_fraction, random_state=seed,
    stratify=y)`` does, without importing scikit-learn (2 s of SciPy and pandas in every process that plans or
    runs a digits variant): its CSV is read from the installed package and the stratified split is done here
    (``_stratified_split``; a unit test checks both equal scikit-learn's arrays). scikit-learn's own functions
    are the fallback when its data file is not where this expects it.

    ``size`` (a multiple of 8) and ``channels`` (1 or 3) make the same images larger (each pixel a square of
    ``size / 8`` pixels) and in colour (the grey value in every channel): real data for an image model such
    as MobileNetV2 (``size: 96, channels: 3``)."""
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 8 and size % 8 == 0):
        raise ValueError(f"size: {size!r} is not a multiple of 8 (8, 16, ..., 96, ...): each pixel becomes a square")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels: {channels!r}; give 1 (grey) or 3 (colour)")
    ds = _digits_8x8(test_fraction, seed)
    if size == 8 and channels == 1:
        return ds

    def grow(x: np.ndarray) -> np.ndarray:
        k = size // 8
        return np.repeat(np.repeat(np.repeat(x, k, axis=1), k, axis=2), channels, axis=3)

    return _finish("digits", grow(ds.x_train), ds.y_train, grow(ds.x_test), ds.y_test)


def _digits_8x8(test_fraction: float, seed: int) -> Dataset:
    import gzip
    import math
    from importlib.util import find_spec

    spec = find_spec("sklearn")  # finds the package without importing it
    csv = Path(next(iter(spec.submodule_search_locations or ()), "")) / "datasets" / "data" / "digits.csv.gz" \
        if spec is not None else None
    if csv is None or not csv.is_file() or not 0 < test_fraction < 1:
        return _digits_sklearn(test_fraction, seed)
    with gzip.open(csv, "rt", encoding="utf-8") as f:
        data = np.loadtxt(f, delimiter=",")
    y = data[:, -1].astype(int, copy=False)
    x = (data[:, :-1].reshape(-1, 8, 8) / 16.0).astype(np.float32)[..., None]  # (N, 8, 8, 1) in [0, 1]
    n_test = math.ceil(test_fraction * len(y))
    if min(n_test, len(y) - n_test) < len(np.unique(y)):  # scikit-learn refuses it, in its words
        return _digits_sklearn(test_fraction, seed)
    train, test = _stratified_split(y, n_test, seed)
    return _finish("digits", x[train], y[train], x[test], y[test])


def _digits_sklearn(test_fraction: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]  # (N, 8, 8, 1) in [0, 1]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction, random_state=seed, stratify=d.target)
    return _finish("digits", xtr, ytr, xte, yte)


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's ``utils.extmath._approximate_mode``: samples per class for ``n_draws`` draws, ties broken
    by ``rng`` (the same calls on the same generator, so the same numbers)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def _stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (train, test) indices of scikit-learn's ``train_test_split(..., test_size=f, random_state=seed,
    stratify=y)`` with ``n_test = ceil(f * len(y))`` (``StratifiedShuffleSplit``'s first split), step for step."""
    n_train = len(y) - n_test
    _, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(len(class_counts)):
        members = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(members[: n_i[i]])
        test.extend(members[n_i[i]: n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


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


def _npz(path: Path, shown: str, labels: str = "classes") -> Dataset:
    """The four arrays of an .npz, never unpickled; DataError for a missing, foreign or corrupt file."""
    x_train, y_train, x_test, y_test = _read_npz(path, shown, lambda f: _npz_arrays(f, path, shown, labels))
    return _finish(path.name, x_train, y_train, x_test, y_test, labels)


def npz_inputs(path: Path, shown: str) -> Any:
    """The ``x_train`` of an .npz (an array, or a dict input name -> array for ``x_train_<input>`` arrays): a
    model's inputs, e.g. calibration samples (``workbench quantize --data``). No labels or test split needed;
    the file is checked as a dataset's (never unpickled, numeric, finite); DataError naming ``shown``."""
    x = _read_npz(path, shown, lambda f: _npz_arrays(f, path, shown, "none", splits=("train",))[0])
    for name, a in (x.items() if isinstance(x, dict) else [("", x)]):
        key = f"x_train_{name}" if name else "x_train"
        if a.dtype.kind not in "fiub" or not len(a):
            raise DataError(f"dataset '{shown}': {key} holds {len(a)} samples of {a.dtype}; give numeric samples")
        _check_finite(shown, key, a)
    return x


def _read_npz(path: Path, shown: str, read: Any) -> Any:
    """``read(f)`` of the open .npz at ``path``, never unpickled; DataError for a missing, foreign or corrupt file."""
    refuse_special(path, f"dataset '{shown}'", DataError)
    if not path.is_file():
        raise DataError(f"dataset '{shown}': file {path} does not exist; give an .npz path relative to the project "
                        "root, or an absolute one")
    unreadable = f"dataset '{shown}': {path} is not a readable .npz file"
    redo = "re-save it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise DataError(f"{unreadable} ({exc.strerror}); check its permissions") from None
    if magic.startswith(_NPY_MAGIC):
        raise DataError(f"{unreadable}: it holds a single .npy array; {redo}")
    if not magic.startswith(_ZIP_MAGIC):
        raise DataError(f"{unreadable}: it is not a zip archive (empty, truncated or another format); {redo}")
    try:
        with np.load(path, allow_pickle=False) as f:
            return read(f)
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"dataset '{shown}': {path} holds pickled objects, which are never loaded; "
                            "save plain numeric arrays") from None
        raise DataError(f"{unreadable} ({_one_line(exc, 120)}); {redo}") from None
    except Exception as exc:  # zipfile.BadZipFile, EOFError, zlib.error, OSError: a truncated or corrupt archive
        raise DataError(f"{unreadable} ({type(exc).__name__}: {_one_line(exc, 120)}); {redo}") from None


def _npz_arrays(f: Any, path: Path, shown: str, labels: str,
                splits: tuple[str, ...] = ("train", "test")) -> tuple[Any, Any, Any, Any]:
    """(x_train, y_train, x_test, y_test) from an open .npz: ``x_<split>`` arrays, or ``x_<split>_<input>`` per
    model input (dicts input name -> array); no ``y_*`` for unlabeled data (``labels="none"``: None)."""
    keys = list(f.files)
    named = {split: {k.removeprefix(f"x_{split}_"): k for k in keys if k.startswith(f"x_{split}_")}
             for split in splits}
    several = any(named.values())
    plain = [f"x_{split}" for split in splits if f"x_{split}" in keys]
    if several and plain:
        raise DataError(f"dataset '{shown}': {path} holds both {plain[0]} and x_<split>_<input> arrays; give one "
                        "array per split (x_train, x_test) or one per model input (x_train_<input>, "
                        "x_test_<input>), not both")
    if several and len(splits) == 2 and set(named["train"]) != set(named["test"]):
        raise DataError(f"dataset '{shown}': {path} has inputs {sorted(named['train'])} in x_train_<input> but "
                        f"{sorted(named['test'])} in x_test_<input>; give every input in both splits")
    needed = [k for k in NPZ_KEYS if (labels != "none" or k.startswith("x_")) and k.split("_")[1] in splits]
    missing = [k for k in needed if k not in keys and not (several and k.startswith("x_"))]
    if missing:
        hint = (" (several inputs: x_train_<input>, x_test_<input>; unlabeled data: task kind fidelity, no y_*)"
                if labels != "none" else " (several inputs: x_train_<input>, x_test_<input>)")
        raise DataError(f"dataset '{shown}': {path} is missing array(s) {missing}; an .npz dataset needs "
                        f"{needed}{hint}")
    x = {split: ({inp: f[k] for inp, k in named[split].items()} if several else f[f"x_{split}"])
         for split in splits}
    y = {split: (f[f"y_{split}"] if labels != "none" else None) for split in splits}
    return x["train"], y["train"], x.get("test"), y.get("test")


def import_function(ref: str, what: str, root: Path | None = None, only_root: bool = False) -> Any:
    """The function ``package.module:function`` names, imported (never unpickled) from the modules Python finds,
    the project ``root`` first (a notebook kernel need not start there); with ``only_root``, only from a file
    under ``root`` (the project's own modules). DataError naming ``what`` (e.g. ``dataset 'x:y'``) when it
    cannot be imported, is not a function or lives elsewhere."""
    module_name, _, func_name = ref.partition(":")
    added = root is not None and str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"{what}: cannot import ({_one_line(exc)}); use 'package.module:function'") from None
    except Exception as exc:  # the module itself fails on import
        raise DataError(f"{what}: importing {module_name} raised {type(exc).__name__}: {_one_line(exc)}") from None
    finally:
        if added:
            sys.path.remove(str(root))
    if not callable(func):
        raise DataError(f"{what}: {func_name} is a {type(func).__name__}, not a function")
    if only_root and root is not None:
        source = Path(getattr(sys.modules.get(module_name), "__file__", None) or "<built-in>").resolve()
        if not source.is_relative_to(root.resolve()):
            raise DataError(f"{what}: {module_name} is {source}, outside the project ({root}); put the function "
                            "in a module of the project")
    return func


def _callable(ref: str, args: dict[str, Any], labels: str, root: Path | None) -> Dataset:
    """Call ``package.module:function`` with ``args``; whatever it raises becomes one DataError line."""
    func = import_function(ref, f"dataset '{ref}'", root)
    try:
        result = func(**args)
    except WorkbenchError:
        raise
    except Exception as exc:
        raise DataError(f"dataset '{ref}' raised {type(exc).__name__}: {_one_line(exc)}; fix the function or its "
                        "dataset_args") from None
    needed = [k for k in NPZ_KEYS if labels != "none" or k.startswith("x_")]
    if isinstance(result, dict):
        missing = [k for k in needed if k not in result]
        if missing:
            raise DataError(f"dataset '{ref}': the returned dict lacks {missing}; it needs {needed}")
        result = tuple(result.get(k) for k in NPZ_KEYS)
    if labels == "none" and isinstance(result, tuple | list) and len(result) == 2:  # (x_train, x_test): no labels
        result = (result[0], None, result[1], None)
    if not isinstance(result, tuple | list) or len(result) != 4:
        raise DataError(f"dataset '{ref}': returned {type(result).__name__}; it must return "
                        "(x_train, y_train, x_test, y_test)")
    return _finish(ref, result[0], result[1], result[2], result[3], labels)


def _image_folder(folder: Path, shown: str, input_shape: tuple[int | None, ...] | None = None,
                  labels: str = "classes", **args: Any) -> Dataset:
    """A folder of images (``workbench.images.read_folder``) checked as any dataset, its reading as its note."""
    images = read_folder(folder, shown, input_shape, labels=labels, **args)
    ds = _finish(shown, images.x_train, images.y_train, images.x_test, images.y_test,
                 labels="none" if labels == "none" else "classes")
    return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.fingerprint, label_columns=ds.label_columns,
                   notes=(images.note,), labels=ds.labels)


def _unlabeled(ds: Dataset, note: str) -> Dataset:
    """``ds`` with its labels left out (a fidelity task ranks by the model's own outputs)."""
    out = _finish_unlabeled(ds.name, ds.x_train, ds.x_test)
    return Dataset(out.name, out.x_train, out.y_train, out.x_test, out.y_test, out.fingerprint,
                   notes=(*ds.notes, note), labels="none")


BUILTIN = {"digits": _digits, "synthetic": _synthetic}


def load_dataset(name: str, args: dict[str, Any] | None = None, root: Path | None = None,
                 input_shape: tuple[int | None, ...] | None = None, labels: str = "classes") -> Dataset:
    """Load a dataset by built-in name, .npz path (relative to ``root``), image folder or ``module:function``.
    ``input_shape`` (the model's, without the batch axis) sizes an image folder's images. ``labels``
    (the task's): ``classes``, ``values`` (regression targets), ``outputs`` (a dict per model output: only
    from a ``module:function``) or ``none`` (no labels: a fidelity task; labels given are not used).

    Raises DataError (one line) when the data cannot be loaded or fails a check of ``_finish``.
    """
    args = dict(args or {})
    if name in BUILTIN and labels == "none":
        return _unlabeled(load_dataset(name, args, root, input_shape), f"dataset {name}: its labels are not used "
                          "(task kind fidelity)")
    if name in BUILTIN:
        if labels != "classes":
            raise DataError(f"dataset '{name}' has class labels; this task needs labels as {labels}: give an .npz or "
                            "a 'module:function' dataset")
        try:
            return BUILTIN[name](**args)  # type: ignore[operator]
        except (TypeError, ValueError) as exc:
            raise DataError(f"dataset '{name}': bad dataset_args ({_one_line(exc)})") from None
    path = Path(name) if Path(name).is_absolute() or root is None else root / name
    if name.endswith(".npz"):
        return _npz(path, name, labels)
    if path.is_dir():
        if labels not in ("classes", "none"):
            raise DataError(f"dataset '{name}': an image folder has class labels; this task needs labels as {labels}: "
                            "give an .npz or a 'module:function' dataset")
        try:
            return _image_folder(path, name, input_shape, labels, **args)
        except TypeError as exc:
            raise DataError(f"dataset '{name}': bad dataset_args ({_one_line(exc)}); an image folder takes "
                            "image_size, channels, scale, test_fraction, seed, max_images, max_mb") from None
    if ":" in name:
        return _callable(name, args, labels, root)
    raise DataError(f"unknown dataset '{name}'; use one of {sorted(BUILTIN)}, a path to an .npz or an image folder, "
                    "or 'module:function'")
