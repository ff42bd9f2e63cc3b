"""Does the data fit the user's model? Checked from the model file's own Keras config (``ModelFile.signature``)
before anything costly: no TensorFlow, no run, no training. Used at planning (``variant.inputs.read_inputs``:
``run``, ``validate --ids``, ``search``, a variant by hand) and by plain ``validate``.

What is checked: the inputs (one array for a one-input model; for several, one array per model input, named
after it: none missing, none unknown); each sample shape against its input's (``None`` axes match anything);
an integer input (a cast, token ids) gets integer values within its dtype, an Embedding fed from an input gets
ids below its ``input_dim``; with one output whose units the config names,
no label at or beyond the units, and one-hot labels with exactly one column per output; a single unit (a
sigmoid: a binary classifier) takes labels 0 and 1 only. A model whose config
does not say (a SavedModel, a subclassed model) is checked after loading instead (``models.check_fits``).
A zoo model is sized from the data: ``check_classes`` refuses labels that leave most of its classes empty.
"""

from __future__ import annotations

import numpy as np

from workbench.data import Dataset
from workbench.errors import DataError
from workbench.model_config import ModelSignature, TensorSpec


def check_fit(model: str, signature: ModelSignature | None, dataset: Dataset) -> None:
    """Raise DataError (one line: what does not fit, where, what to do) when ``dataset`` cannot feed ``model``
    or its labels cannot be scored against the model's outputs. Nothing to check without a signature."""
    if signature is None:
        return
    where = f"model '{model}' and dataset '{dataset.name}'"
    arrays = _by_input(where, signature, dataset)
    specs = {s.name: s for s in signature.inputs}
    for name, (train, test) in arrays.items():
        key = f"x_<split>_{name} " if dataset.input_names else ""
        _check_shape(where, specs[name], tuple(int(d) for d in train.shape[1:]), key)
        _check_integer_input(where, specs[name], train, test)
    for emb in signature.embeddings:
        if emb.input in arrays:
            _check_tokens(where, emb.name, emb.input_dim, *arrays[emb.input])
    if dataset.labels == "classes" and len(signature.outputs) == 1 and signature.outputs[0].units is not None:
        _check_labels(where, signature.outputs[0].name, signature.outputs[0].units, dataset)


def _by_input(where: str, signature: ModelSignature, dataset: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Input name -> (train, test) samples for it: the one array for a one-input model, else the dataset's
    arrays named after the model's inputs; DataError naming the inputs without data and the arrays that name
    no input."""
    model_names = [i.name for i in signature.inputs]
    given = dataset.input_names
    if not given:
        if len(model_names) != 1:
            raise DataError(f"{where}: the model has {len(model_names)} inputs ({', '.join(model_names)}) but the "
                            "dataset gives one array per sample; give one array per input, named after it: in an "
                            f".npz {', '.join(f'x_train_{n}' for n in model_names)} (and x_test_...)")
        return {model_names[0]: (dataset.x_train, dataset.x_test)}
    missing = [n for n in model_names if n not in given]
    unknown = [n for n in given if n not in model_names]
    if missing or unknown:
        what = "; ".join([*([f"no data for input(s) {', '.join(missing)}"] if missing else []),
                          *([f"{', '.join(unknown)} name(s) no input of the model"] if unknown else [])])
        raise DataError(f"{where}: the dataset's inputs ({', '.join(given)}) are not the model's "
                        f"({', '.join(model_names)}): {what}; name each array after a model input "
                        "(x_train_<input>, x_test_<input>)")
    return {n: (dataset.x_train[n], dataset.x_test[n]) for n in model_names}


def check_classes(model: str, dataset: Dataset) -> None:
    """For a zoo model, sized from the data (one output per class up to the largest label): DataError when most
    of those classes never occur in y_train, i.e. a stray label would build a model of mostly empty classes."""
    if dataset.input_names:
        raise DataError(f"dataset '{dataset.name}': zoo model '{model}' takes one input, but the data gives several "
                        f"({', '.join(dataset.input_names)}); give your own model file with these inputs")
    if dataset.labels != "classes":  # regression targets, several outputs, no labels: no classes to count
        return
    n = dataset.num_classes
    present = len(np.unique(dataset.y_train))
    if n > 2 and present * 2 < n:
        i = int(np.argmax(dataset.y_train == dataset.y_train.max()))
        raise DataError(f"dataset '{dataset.name}': y_train has the label {int(dataset.y_train[i])} at sample {i} but "
                        f"only {present} of the {n:,} classes 0..{n - 1} occur in it; zoo model '{model}' would get "
                        f"{n:,} outputs: fix the label (class indices run 0..C-1)")


def _check_shape(where: str, spec: TensorSpec, got: tuple[int, ...], key: str = "") -> None:
    expected = spec.shape
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got, strict=True)):
        shown = "(" + ", ".join("None" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise DataError(f"{where}: {key or ''}samples have shape {got} but input '{spec.name}' expects {shown}; reshape "
                        "the data (x.reshape(-1, ...)) or give a model for this shape")


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask.reshape(len(mask), -1).any(axis=1)))


def _check_integer_input(where: str, spec: TensorSpec, train: np.ndarray, test: np.ndarray) -> None:
    try:
        dtype = np.dtype(spec.dtype)
    except TypeError:
        return  # a dtype NumPy does not name (string inputs): loading the model will tell
    if dtype.kind not in "biu":
        return
    info = np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)
    low, high = (0, 1) if dtype.kind == "b" else (info.min, info.max)
    for key, x in (("x_train", train), ("x_test", test)):
        frac = np.mod(x, 1) != 0
        if frac.any():
            i = _first(frac)
            raise DataError(f"{where}: input '{spec.name}' is {dtype.name} but {key} holds the non-integer value "
                            f"{x[i][frac[i]][0].item()!r} (sample {i}); give integer values (ids, counts)")
        out = (x < low) | (x > high)
        if out.any():
            i = _first(out)
            raise DataError(f"{where}: input '{spec.name}' is {dtype.name} ({low}..{high}) but {key} holds "
                            f"{x[i][out[i]][0].item():g} (sample {i}); give values within the input's range")


def _check_tokens(where: str, layer: str, input_dim: int, train: np.ndarray, test: np.ndarray) -> None:
    for key, x in (("x_train", train), ("x_test", test)):
        out = (x < 0) | (x >= input_dim)
        if out.any():
            i = _first(out)
            raise DataError(f"{where}: {key} holds the token id {x[i][out[i]][0].item():g} (sample {i}) but "
                            f"Embedding '{layer}' has {input_dim} rows (ids 0..{input_dim - 1}); fix the ids or "
                            "give a model with a larger vocabulary")


def _check_labels(where: str, output: str, units: int, dataset: Dataset) -> None:
    """Class labels against an output of ``units`` units: one unit is a binary classifier (a sigmoid: the
    probability of class 1), scored on labels 0 and 1 (class 1 when above 0.5)."""
    if units == 1:
        _check_binary(where, output, dataset)
        return
    if dataset.label_columns and dataset.label_columns != units:
        raise DataError(f"{where}: the labels are one-hot with {dataset.label_columns} classes but output "
                        f"'{output}' has {units} units; give labels with one column per output unit")
    for key, y in (("y_train", dataset.y_train), ("y_test", dataset.y_test)):
        beyond = y >= units
        if beyond.any():
            i = int(np.argmax(beyond))
            raise DataError(f"{where}: {key} has the label {int(y[i])} at sample {i} but output '{output}' has "
                            f"{units} units (classes 0..{units - 1}); fix the label or give a model with one "
                            "output per class")


def _check_binary(where: str, output: str, dataset: Dataset) -> None:
    if dataset.label_columns and dataset.label_columns != 2:
        raise DataError(f"{where}: the labels are one-hot with {dataset.label_columns} classes but output '{output}' "
                        "has 1 unit (a binary classifier: labels 0 and 1); give 0/1 labels or a model with one "
                        "output per class")
    for key, y in (("y_train", dataset.y_train), ("y_test", dataset.y_test)):
        beyond = y > 1
        if beyond.any():
            i = int(np.argmax(beyond))
            raise DataError(f"{where}: {key} has the label {int(y[i])} at sample {i} but output '{output}' has 1 unit "
                            "(a binary classifier: labels 0 and 1, class 1 when the output is above 0.5); fix the "
                            "label or give a model with one output per class")
