"""Every layer's output shape from a Keras model config, without TensorFlow: how many values one sample's
forward pass produces (what training keeps for the backward pass), for the memory estimate of a user's model
file (``workbench.spec.fit.size_problem``). Shapes are propagated from the inputs through the layers whose
arithmetic is written here (dense, convolutions, pooling, reshaping, merging, normalisation and activations:
what image and sequence classifiers are built of); a layer not listed, a nested model, a ``channels_first``
layout or a Keras 3 graph makes the answer None (then the estimate counts the weights alone). Pure: dicts in,
numbers out.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.model_config import _PASS_THROUGH, _inbound, _layer_config, _layer_name, _refs, _shape

Shape = tuple[int, ...]

#: layers whose output has their (first) input's shape
_SAME = _PASS_THROUGH | {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
                         "Rescaling", "Normalization", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                         "Masking", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                         "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast"}
_CONV = {"Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D"}
_POOL = {f"{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)}
_GLOBAL = {f"Global{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)}


def _ints(value: Any, rank: int) -> tuple[int, ...] | None:
    """A Keras size argument (one int, or one per axis) as ``rank`` ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * rank
    if isinstance(value, list | tuple) and len(value) == rank and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _windowed(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    """One spatial axis through a convolution or pooling window."""
    if padding in ("same", "causal"):
        return -(-size // stride)
    out = (size - (kernel - 1) * dilation - 1) // stride + 1
    return out if padding == "valid" and out >= 1 else None


def _spatial(shape: Shape, cfg: dict[str, Any], kernel_key: str, channels: int) -> Shape | None:
    rank = len(shape) - 1
    kernel = _ints(cfg.get(kernel_key), rank)
    strides = _ints(cfg.get("strides") if cfg.get("strides") is not None else cfg.get(kernel_key), rank)
    dilation = _ints(cfg.get("dilation_rate", 1), rank)
    if rank < 1 or kernel is None or strides is None or dilation is None:
        return None
    axes = [_windowed(n, k, s, str(cfg.get("padding", "valid")), d)
            for n, k, s, d in zip(shape[:-1], kernel, strides, dilation, strict=True)]
    return None if None in axes else (*(a for a in axes if a is not None), channels)


def _output(cls: str, cfg: dict[str, Any], ins: list[Shape]) -> Shape | None:
    """The output shape (without the batch axis) of one layer given its inputs' shapes; None when unknown."""
    if not ins or cfg.get("data_format") == "channels_first":
        return None
    x = ins[0]
    if cls in _SAME:
        return x
    if cls == "Dense" and isinstance(cfg.get("units"), int):
        return (*x[:-1], cfg["units"])
    if cls in _CONV:
        if cls.startswith("Depthwise"):
            channels = x[-1] * int(cfg.get("depth_multiplier", 1))
        elif isinstance(cfg.get("filters"), int):
            channels = cfg["filters"]
        else:
            return None
        return _spatial(x, cfg, "kernel_size", channels)
    if cls in _POOL:
        return _spatial(x, cfg, "pool_size", x[-1])
    if cls in _GLOBAL:
        return (*(1,) * (len(x) - 1), x[-1]) if cfg.get("keepdims") else (x[-1],)
    if cls == "Flatten":
        return (math.prod(x),)
    if cls == "Reshape":
        target = cfg.get("target_shape")
        if not isinstance(target, list | tuple) or not all(isinstance(v, int) for v in target):
            return None
        known = math.prod(v for v in target if v != -1)
        return tuple(math.prod(x) // known if v == -1 and known else v for v in target)
    if cls == "Embedding" and isinstance(cfg.get("output_dim"), int):
        return (*x, cfg["output_dim"])
    if cls == "Concatenate":
        axis = int(cfg.get("axis", -1))
        axis = axis - 1 if axis >= 0 else axis % len(x)  # the config counts the batch axis
        if any(len(s) != len(x) for s in ins) or not 0 <= axis < len(x):
            return None
        return tuple(sum(s[axis] for s in ins) if i == axis else n for i, n in enumerate(x))
    if cls == "ZeroPadding2D" and len(x) == 3:
        pad = cfg.get("padding", 1)
        pairs = ((pad, pad), (pad, pad)) if isinstance(pad, int) else tuple(
            (p, p) if isinstance(p, int) else tuple(p) for p in pad)
        return (x[0] + sum(pairs[0]), x[1] + sum(pairs[1]), x[2])
    if cls == "UpSampling2D" and len(x) == 3:
        size = _ints(cfg.get("size", 2), 2)
        return None if size is None else (x[0] * size[0], x[1] * size[1], x[2])
    return None


def _filled(shape: tuple[int | None, ...] | None, data_shape: tuple[int, ...] | None) -> Shape | None:
    """A declared input shape with its free axes taken from the data's sample shape."""
    if shape is None:
        return None
    if None in shape:
        if data_shape is None or len(data_shape) != len(shape):
            return None
        return tuple(d if s is None else s for s, d in zip(shape, data_shape, strict=True))
    return tuple(s for s in shape if s is not None)


def _sequential(layers: list[dict[str, Any]], top: dict[str, Any], data_shape: tuple[int, ...] | None) -> int | None:
    first = _layer_config(layers[0])
    shape = _filled(_shape(first.get("batch_input_shape", first.get("batch_shape")))
                    or _shape((top.get("build_config") or {}).get("input_shape")), data_shape)
    total = 0
    for layer in layers:
        if layer.get("class_name") == "InputLayer":
            continue
        if shape is None:
            return None
        shape = _output(str(layer.get("class_name")), _layer_config(layer), [shape])
        total += math.prod(shape) if shape is not None else 0
    return total if shape is not None else None


def _functional(cfg: dict[str, Any], data_shape: tuple[int, ...] | None) -> int | None:
    layers = [x for x in cfg.get("layers") or [] if isinstance(x, dict)]
    inputs = _refs(cfg.get("input_layers"))
    shapes: dict[str, Shape] = {}
    total = 0
    pending = list(layers)
    while pending:  # layers in any order: each once all its inputs' shapes are known
        progressed = False
        for layer in list(pending):
            name, cls, inner = _layer_name(layer), str(layer.get("class_name")), _layer_config(layer)
            if cls == "InputLayer":
                shape = _filled(_shape(inner.get("batch_input_shape", inner.get("batch_shape"))),
                                data_shape if len(inputs) == 1 else None)
            else:
                feeds = _inbound(layer)
                if not feeds:
                    return None  # a layer used twice, or a graph format this does not read
                if any(f not in shapes for f in feeds):
                    continue
                shape = _output(cls, inner, [shapes[f] for f in feeds])
                total += math.prod(shape) if shape is not None else 0
            if shape is None:
                return None
            shapes[name] = shape
            pending.remove(layer)
            progressed = True
        if not progressed:
            return None
    return total


def activation_values(config: Any, data_shape: tuple[int, ...] | None = None) -> int | None:
    """The values every layer of a Keras model config outputs for one sample, summed; free input axes take the
    data's sample shape ``data_shape`` (a single-input model). None when some layer's shape is not known here
    (see the module docstring): the caller then counts the weights alone."""
    if not isinstance(config, dict):
        return None
    cfg = _layer_config(config)
    if config.get("class_name") == "Sequential":
        layers = [x for x in cfg.get("layers") or [] if isinstance(x, dict)]
        return _sequential(layers, config, data_shape) if layers else None
    if config.get("class_name") in ("Functional", "Model"):
        return _functional(cfg, data_shape)
    return None
