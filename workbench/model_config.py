"""What a Keras model config says about the model's inputs and outputs, read without TensorFlow: each input's
name, shape (without the batch axis) and dtype, each output's units, and the Embeddings fed straight from an
input. Read from a .keras file's ``config.json`` or an .h5's ``model_config`` (``model_files.check_model_file``);
``fit.check_fit`` compares it with the data. Pure: dicts in, records out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TensorSpec:
    """One input of a model as its config declares it: name, shape without the batch axis (None: any), dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass(frozen=True)
class OutputSpec:
    """One output of a model: its layer's name and units (None when the config does not say, e.g. a Reshape)."""

    name: str
    units: int | None


@dataclass(frozen=True)
class Embedding:
    """An Embedding layer fed straight from a model input: token ids must lie in ``0..input_dim - 1``."""

    name: str
    input: str
    input_dim: int


@dataclass(frozen=True)
class ModelSignature:
    """What a model file's Keras config says about its inputs and outputs, read without TensorFlow."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    embeddings: tuple[Embedding, ...] = ()


#: layers that pass their input's last axis through: an output behind them has the units of the layer before
_PASS_THROUGH = {"Activation", "Softmax", "Dropout", "ReLU", "LeakyReLU", "ELU", "PReLU", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"}
_MODELS = {"Sequential", "Functional", "Model"}


def _layer_config(layer: dict[str, Any]) -> dict[str, Any]:
    inner = layer.get("config")
    return inner if isinstance(inner, dict) else {}


def _layer_name(layer: dict[str, Any]) -> str:
    return str(layer.get("name") or _layer_config(layer).get("name") or "")


def _dtype(value: Any) -> str:
    """A config's dtype: a string (Keras 2) or a DTypePolicy record (Keras 3); float32 when unset."""
    if isinstance(value, dict):
        value = _layer_config(value).get("name")
    return value if isinstance(value, str) and value else "float32"


def _shape(value: Any) -> tuple[int | None, ...] | None:
    """A batch shape list without its batch axis; None when it is not one."""
    if not isinstance(value, list) or not value or any(d is not None and not isinstance(d, int) for d in value):
        return None
    return tuple(value[1:])


def _input_spec(layer: dict[str, Any]) -> TensorSpec | None:
    cfg = _layer_config(layer)
    shape = _shape(cfg.get("batch_input_shape", cfg.get("batch_shape")))
    return None if shape is None else TensorSpec(_layer_name(layer), shape, _dtype(cfg.get("dtype")))


def _units(layer: dict[str, Any]) -> int | None:
    units = _layer_config(layer).get("units")
    return units if isinstance(units, int) and not isinstance(units, bool) else None


def _inbound(layer: dict[str, Any]) -> list[str]:
    """The names of the layers feeding ``layer`` (tf_keras's functional config: [[[name, 0, 0, {}], ...]])."""
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], list):
        return []
    return [str(n[0]) for n in nodes[0] if isinstance(n, list) and n and isinstance(n[0], str)]


def _refs(value: Any) -> list[str]:
    """``input_layers`` / ``output_layers``: [[name, 0, 0], ...], or one [name, 0, 0] for a single tensor."""
    if not isinstance(value, list):
        return []
    if value and isinstance(value[0], str):
        value = [value]
    return [str(v[0]) for v in value if isinstance(v, list) and v and isinstance(v[0], str)]


def _sequential(layers: list[Any], top: dict[str, Any]) -> ModelSignature | None:
    layers = [x for x in layers if isinstance(x, dict)]
    if not layers:
        return None
    first = layers[0]
    spec = _input_spec(first)
    if spec is None:  # no InputLayer: the first layer's batch_input_shape, or the model's build shape
        shape = _shape((top.get("build_config") or {}).get("input_shape"))
        if shape is None:
            return None
        spec = TensorSpec("input", shape, _dtype(_layer_config(first).get("dtype")))
    body = [x for x in layers if x.get("class_name") != "InputLayer"]
    last = next((x for x in reversed(body) if x.get("class_name") not in _PASS_THROUGH), None)
    out = OutputSpec(_layer_name(last), _units(last)) if last is not None else OutputSpec("output", None)
    embeds: tuple[Embedding, ...] = ()
    if body and body[0].get("class_name") == "Embedding":
        dim = _layer_config(body[0]).get("input_dim")
        if isinstance(dim, int):
            embeds = (Embedding(_layer_name(body[0]), spec.name, dim),)
    return ModelSignature((spec,), (out,), embeds)


def _functional(cfg: dict[str, Any]) -> ModelSignature | None:
    layers = {_layer_name(x): x for x in cfg.get("layers") or [] if isinstance(x, dict)}
    inputs = []
    for name in _refs(cfg.get("input_layers")):
        spec = _input_spec(layers.get(name, {}))
        if spec is None:
            return None
        inputs.append(spec)
    outputs = []
    for name in _refs(cfg.get("output_layers")):
        layer = layers.get(name, {})
        while layer.get("class_name") in _PASS_THROUGH and len(_inbound(layer)) == 1:
            layer = layers.get(_inbound(layer)[0], {})
        outputs.append(OutputSpec(name, _units(layer)))
    input_names = {i.name for i in inputs}
    embeds = tuple(Embedding(name, _inbound(x)[0], dim) for name, x in layers.items()
                   if x.get("class_name") == "Embedding" and len(_inbound(x)) == 1 and _inbound(x)[0] in input_names
                   and isinstance(dim := _layer_config(x).get("input_dim"), int))
    return ModelSignature(tuple(inputs), tuple(outputs), embeds) if inputs and outputs else None


def signature_of(config: Any) -> ModelSignature | None:
    """Inputs (shape, dtype), outputs (units) and input-fed Embeddings from a Keras model config (a .keras
    file's ``config.json``, an .h5's ``model_config``); None when the config does not say (a subclassed model,
    an unknown layout): then only loading the model can tell."""
    if not isinstance(config, dict) or config.get("class_name") not in _MODELS:
        return None
    cfg = _layer_config(config)
    if config.get("class_name") == "Sequential":
        return _sequential(cfg.get("layers") or [], config)
    return _functional(cfg)
