"""Baseline models: a small zoo (digits CNN, keras.applications with ``weights=None``) and user files.

User files are checked without TensorFlow first (``workbench.model_files``: format, content fingerprint,
Lambda layers refused), then load in Keras safe mode (.keras); nothing is ever unpickled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench._keras import keras, tf
from workbench.catalog.zoo import ZOO_NAMES
from workbench.data import Dataset, feed, value_range
from workbench.errors import DataError, ModelFileError, SpecError
from workbench.model_files import ModelFile, check_model_file, resolve_model
from workbench.spec import TrainingSpec


def digits_cnn(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0, dense: int = 128) -> Any:
    """Two 3x3 convs, max-pool, a dense layer; ~72k parameters at width 1. Outputs logits."""

    def w(n: int) -> int:
        return max(2, int(round(n * width)))

    return keras.Sequential(
        [
            keras.layers.Input(input_shape),
            keras.layers.Conv2D(w(16), 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(w(32), 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(w(dense), activation="relu", name="fc1"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name=f"digits_cnn_w{width:g}",
    )


#: the BatchNormalization momentum of the zoo's keras.applications models. Keras builds them with 0.999, made
#: for ImageNet-length training: after a few hundred steps the moving statistics still hold most of their
#: initial values (0.999**360 = 0.70), and the trained model scores at chance in inference. Measured: MobileNetV2
#: 96x96 on digits, 45 steps an epoch, 8 epochs: 9.7% with 0.999, 93-96% from epoch 3 with 0.9.
BN_MOMENTUM = 0.9


def _application(factory: Callable[..., Any]) -> Callable[..., Any]:
    def build(input_shape: tuple[int, ...], num_classes: int, alpha: float = 1.0, **kwargs: Any) -> Any:
        model = factory(
            input_shape=input_shape, alpha=alpha, weights=None, classes=num_classes, classifier_activation=None, **kwargs
        )
        config = model.get_config()
        for layer in config["layers"]:
            if layer["class_name"] == "BatchNormalization":
                layer["config"]["momentum"] = BN_MOMENTUM
        return keras.Model.from_config(config)  # untrained: nothing to carry over but the structure

    return build


#: the builders, keyed by the catalogue's names (``workbench.catalog.zoo``)
ZOO: dict[str, Callable[..., Any]] = {
    "digits_cnn": digits_cnn,
    "mobilenet_v2": _application(keras.applications.MobileNetV2),
    "mobilenet_v3_small": _application(keras.applications.MobileNetV3Small),
}
if set(ZOO) != set(ZOO_NAMES):  # pragma: no cover - the TF-free checks must know every zoo name
    raise ImportError(f"workbench.catalog.zoo.ZOO_NAMES {sorted(ZOO_NAMES)} != models.ZOO {sorted(ZOO)}")


def build_zoo_model(name: str, input_shape: tuple[int, ...], num_classes: int, args: dict[str, Any]) -> Any:
    """Build a fresh (untrained) zoo model for the dataset's input shape and class count."""
    if name not in ZOO:
        raise SpecError(f"unknown zoo model '{name}'; known: {sorted(ZOO)} (or give a .keras/.h5/SavedModel path)")
    try:
        return ZOO[name](input_shape, num_classes, **args)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"model '{name}' with model_args {args}: {exc}") from None


def load_model_file(path: str | Path, expected_sha256: str = "") -> Any:
    """Load a user's .keras (safe mode), .h5 (no Lambda layers) or SavedModel directory.

    The file is checked first without TensorFlow (``model_files.check_model_file``: exists, recognised
    format, no Lambda code); with ``expected_sha256`` its content must still be what was planned.
    """
    return _load_checked(check_model_file(Path(path)), expected_sha256)


def _load_checked(checked: ModelFile, expected_sha256: str = "") -> Any:
    p = checked.path
    if expected_sha256 and checked.sha256 != expected_sha256:
        raise ModelFileError(f"model file {p} changed since it was planned (sha256 {expected_sha256[:12]}, now "
                             f"{checked.sha256[:12]}); run the sweep again to re-plan")
    try:
        if checked.format == "savedmodel":
            return keras.models.load_model(p, compile=False)
        if checked.format == "keras":
            return keras.models.load_model(p, compile=False, safe_mode=True)
        return keras.models.load_model(p, compile=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{p}: cannot load as a Keras model ({first[:200]})") from None


def build_baseline(model: str, model_args: dict[str, Any], dataset: Dataset, root: Path | None = None,
                   model_sha256: str = "") -> Any:
    """A zoo model sized for ``dataset``, or a user's model file checked against it (and, with
    ``model_sha256``, against the content the plan recorded)."""
    if model in ZOO:  # one output per class; a regressor: one per value of a label row
        units = dataset.num_classes if dataset.labels == "classes" else int(np.prod(dataset.y_train.shape[1:]))
        return build_zoo_model(model, dataset.input_shape, units, model_args)
    checked = resolve_model(model, root)  # SpecError for an unknown name, ModelFileError for a bad file
    if checked is None:  # pragma: no cover - ZOO and ZOO_NAMES are kept equal at import
        raise SpecError(f"baseline.model: zoo model '{model}' is not built by this workbench")
    loaded = _load_checked(checked, model_sha256)
    check_fits(loaded, dataset)
    return loaded


def check_fits(model: Any, dataset: Dataset) -> None:
    """Raise DataError when the dataset's sample shape or class count does not fit the model."""
    if dataset.input_names or len(model.inputs) != 1:  # several inputs: one array per input, by name
        names = list(model.input_names)
        if sorted(names) != sorted(dataset.input_names):
            raise DataError(f"dataset '{dataset.name}' gives inputs ({', '.join(dataset.input_names) or 'one array'}) "
                            f"but model '{model.name}' has inputs ({', '.join(names)}); name one array per input "
                            "after it (x_train_<input>, x_test_<input>)")
        return
    expected = tuple(model.input_shape[1:])
    got = dataset.input_shape
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got, strict=False)):
        raise DataError(
            f"dataset '{dataset.name}' samples have shape {got} but model '{model.name}' expects {expected}; "
            "reshape the data or pick a matching model"
        )
    if dataset.labels != "classes":
        return  # regression targets and multi-output labels are scored, not counted as classes
    outputs = model.output_shape[-1]
    if outputs == 1 and dataset.num_classes == 2:
        return  # one unit: a binary classifier (labels 0 and 1, class 1 above 0.5)
    if outputs is not None and outputs < dataset.num_classes:
        raise DataError(
            f"dataset '{dataset.name}' has {dataset.num_classes} classes but model '{model.name}' outputs {outputs}"
        )


def outputs_logits(model: Any) -> bool:
    """True unless the last layer applies a softmax or a sigmoid (then outputs are probabilities)."""
    return _activation(model.layers[-1]) not in ("softmax", "sigmoid")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TF ops deterministic (same seed, same weights)."""
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - already enabled or unsupported
        pass


def _activation(layer: Any) -> str:
    """The name of ``layer``'s activation, looking through a technique's wrapper (pruning, clustering, QAT keep
    the wrapped layer as ``.layer``; QAT's activation keeps the original as ``.activation``)."""
    while not hasattr(layer, "activation") and hasattr(layer, "layer"):
        layer = layer.layer
    act = getattr(layer, "activation", None)
    return str(getattr(act, "__name__", "") or getattr(getattr(act, "activation", None), "__name__", ""))


Loss = str | Mapping[str, str] | None


def _loss(name: str, layer: Any, units: int | None) -> Any:
    """The Keras loss ``name`` (``spec.task.LOSS_NAMES``) for an output made by ``layer`` with ``units`` units:
    cross-entropy is binary for one unit (a sigmoid's probability, or a logit), sparse categorical otherwise."""
    if name == "mae":
        return keras.losses.MeanAbsoluteError()
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if units == 1:
        return keras.losses.BinaryCrossentropy(from_logits=_activation(layer) != "sigmoid")
    return keras.losses.SparseCategoricalCrossentropy(from_logits=_activation(layer) != "softmax")


def _output_layers(model: Any) -> dict[str, tuple[Any, int | None]]:
    """output name -> (the layer making it, its last axis), in the model's output order."""
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    names = list(getattr(model, "output_names", None) or [model.layers[-1].name])
    by_name = {x.name: x for x in model.layers}
    return {n: (by_name.get(n, model.layers[-1]), shape[-1]) for n, shape in zip(names, shapes, strict=True)}


def output_keys(names: list[str], keys: Iterable[str]) -> dict[str, str]:
    """model output name -> the key (a task's output name) it answers to: the same name, or a technique's
    wrapper around it (``prune_low_magnitude_value``, ``quant_value``, ``cluster_value`` answer to ``value``)."""
    keys = list(keys)
    out = {n: n for n in names if n in keys}
    for n in names:
        if n not in out:
            wrapped = [k for k in keys if n.endswith("_" + k) and k not in out.values()]
            if wrapped:
                out[n] = max(wrapped, key=len)
    return out


def training_losses(model: Any, loss: Loss = None) -> tuple[Any, Any]:
    """The Keras loss (one, or one per output in the model's order: None for an output not trained on) and
    metrics for ``loss``: None or a name for a single-output model (None: cross-entropy), output name -> name
    (``""``: the one output). ValueError naming an output the model does not have."""
    outputs = _output_layers(model)
    if loss is None or isinstance(loss, str) or (len(outputs) == 1 and len(loss) == 1):
        name = loss if isinstance(loss, str) else "crossentropy" if loss is None else next(iter(loss.values()))
        (layer, units), = outputs.values()
        return _loss(name, layer, units), ["accuracy"] if name == "crossentropy" else ["mae"]
    keys = output_keys(list(outputs), loss)
    unknown = [k for k in loss if k not in keys.values()]
    if unknown:
        raise ValueError(f"training loss for output '{unknown[0]}', which the model does not have (it has "
                         f"{', '.join(outputs)})")
    losses = [_loss(loss[keys[n]], *outputs[n]) if n in keys else None for n in outputs]
    metrics = [(["accuracy"] if loss[keys[n]] == "crossentropy" else ["mae"]) if n in keys else [] for n in outputs]
    return losses, metrics


def compile_for_training(model: Any, learning_rate: float, loss: Loss = None) -> Any:
    """Compile with Adam and the loss ``training_losses`` gives for ``loss`` (None: cross-entropy, binary for a
    single unit)."""
    keras_loss, metrics = training_losses(model, loss)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras_loss, metrics=metrics)
    return model


def _labels(model: Any, y: np.ndarray) -> Any:
    """Labels as Keras takes them: a multi-output dataset's structured array (a field per output name) as one
    array per model output, in its order (zeros for an output the task does not score: it has no loss)."""
    if not y.dtype.names:
        return y
    names = list(_output_layers(model))
    keys = output_keys(names, y.dtype.names)
    return [y[keys[n]] if n in keys else np.zeros(len(y), np.float32) for n in names]


def fit(model: Any, dataset: Dataset, epochs: int, batch_size: int, learning_rate: float,
        callbacks: list[Any] | None = None, loss: Loss = None) -> dict[str, list[float]]:
    """Compile and train on ``loss`` (``training_losses``); returns the per-epoch history (loss, val_loss and the
    metrics: accuracy for classes, mae for values)."""
    if epochs == 0:
        return {}
    compile_for_training(model, learning_rate, loss)
    hist = model.fit(
        feed(dataset.x_train), _labels(model, dataset.y_train), epochs=epochs, batch_size=batch_size,
        validation_data=(feed(dataset.x_test), _labels(model, dataset.y_test)), verbose=0, callbacks=callbacks or [],
    )
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def train_baseline(model: Any, dataset: Dataset, training: TrainingSpec) -> dict[str, list[float]]:
    """Seeded training of the float baseline."""
    seed_everything(training.seed)
    return fit(model, dataset, training.epochs, training.batch_size, training.learning_rate, loss=training.loss)


def check_finite(model: Any, history: dict[str, list[float]], dataset: Dataset, given: str = "") -> None:
    """DataError (one line) when the float baseline is unusable: a training loss or a weight that is NaN or Inf
    (training diverged), or, for a model file used as given (``given``), weights that already are."""
    losses = history.get("loss", [])
    epoch = next((i for i, v in enumerate(losses) if not np.isfinite(v)), None)
    weight = next((w.name for w in model.weights if not np.all(np.isfinite(np.asarray(w.numpy(), np.float64)))), None)
    if epoch is None and weight is None:
        return
    if given and not losses:
        raise DataError(f"model file {given}: weight {weight} holds NaN or Inf values; nothing measured from it "
                        "would mean anything: re-train or re-export the model")
    what = f"the training loss is {losses[epoch]} at epoch {epoch + 1}" if epoch is not None else f"weight {weight} is not finite"
    lo, hi = value_range(dataset.x_train)
    raise DataError(f"dataset '{dataset.name}': the float baseline diverged in training ({what}); x_train spans "
                    f"{lo:.3g}..{hi:.3g}: scale the inputs (e.g. to 0..1) or lower training.learning_rate")


WEIGHT_SUFFIXES = ("kernel:0", "bias:0", "depthwise_kernel:0", "pointwise_kernel:0", "gamma:0", "beta:0",
                   "moving_mean:0", "moving_variance:0", "embeddings:0")


def count_params(model: Any) -> int:
    """Model parameters (kernels, biases, normalization statistics), not the bookkeeping variables that
    tfmot wrappers add (pruning masks, cluster centroids and indices, quantizer ranges)."""
    seen: set[int] = set()
    total = 0
    for w in model.weights:
        if id(w) in seen or not w.name.endswith(WEIGHT_SUFFIXES):
            continue
        seen.add(id(w))
        total += int(np.prod(w.shape))
    return total
