"""The built-in baseline models, declared once: name, kind, the input they are made for, and which built-in
dataset fits. ``workbench.models.ZOO`` holds the builders keyed by these names (a test keeps the two equal);
``model_files`` and ``workbench zoo`` read the names from here, without TensorFlow. Every zoo model is built
untrained for the dataset's own input shape and class count; ``input_shape`` and ``classes`` say what it is
made for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ZooModel:
    """One zoo model."""

    name: str
    kind: str  # "cnn" (the workbench's own) | "keras.applications"
    input_shape: tuple[int, ...]  # the input it is made for (height, width, channels)
    classes: int
    description: str
    datasets: tuple[str, ...]  # built-in datasets that fit (with their arguments, when they matter)
    args: tuple[str, ...] = ()  # the ``model_args`` it accepts
    #: bumped when the builder changes what it builds (part of the baseline id, so an old cache is not reused)
    revision: int = 0


_ALL = (
    ZooModel("digits_cnn", "cnn", (8, 8, 1), 10, "two 3x3 convs, max-pool, a dense layer (~72k parameters at width 1)",
             ("digits", "synthetic"), ("width", "dense")),
    ZooModel("mobilenet_v2", "keras.applications", (224, 224, 3), 1000,
             "MobileNetV2, weights=None (inputs of at least 32x32x3), BatchNormalization momentum 0.9",
             ("synthetic shape=[224, 224, 3]",), ("alpha",), revision=1),
    ZooModel("mobilenet_v3_small", "keras.applications", (224, 224, 3), 1000,
             "MobileNetV3-Small, weights=None (inputs of at least 32x32x3), BatchNormalization momentum 0.9",
             ("synthetic shape=[224, 224, 3]",), ("alpha",), revision=1),
)
ZOO_MODELS: Mapping[str, ZooModel] = MappingProxyType({m.name: m for m in _ALL})
#: each ``model_args`` key's domain: (type, least value); a float must exceed it, an int reach it. A test
#: keeps the keys equal to the builders' parameters in ``workbench.models`` (read from its source)
ARG_DOMAINS: Mapping[str, tuple[type, float]] = MappingProxyType({"width": (float, 0.0), "dense": (int, 1),
                                                                  "alpha": (float, 0.0)})
ZOO_NAMES: tuple[str, ...] = tuple(ZOO_MODELS)
def model_args_problem(model: str, args: Mapping[str, object]) -> str:
    """What is wrong with ``model_args`` for the zoo model ``model`` ('' when nothing): an argument its builder
    does not take (a typo would fail at training, after the cost), or a value outside its domain."""
    zoo = ZOO_MODELS[model]
    for key, value in args.items():
        if key not in zoo.args:
            takes = f"it takes {', '.join(zoo.args)}" if zoo.args else "it takes none"
            return f"'{key}' is not an argument of zoo model {model}; {takes}"
        kind, least = ARG_DOMAINS[key]
        ok_type = isinstance(value, int | float) and not isinstance(value, bool) and (
            kind is float or float(value).is_integer())
        if not ok_type:
            return f"{key}: {value!r} is not a {'number' if kind is float else 'whole number'}"
        if (kind is float and not float(value) > least) or (kind is int and float(value) < least):  # type: ignore[arg-type]
            return f"{key}: {value!r} must be {'>' if kind is float else '>='} {least:g}"
    return ""


#: the built-in datasets (``workbench.data.BUILTIN`` loads them; a test keeps the two equal)
DATASETS: tuple[str, ...] = ("digits", "synthetic")
