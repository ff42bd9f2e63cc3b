"""Float32 ``.tflite`` -> quantized ``.tflite`` bytes with the LiteRT Quantizer (``litert-quantizer``), by
the recipes of the modes declared in ``workbench.catalog.quantization``. In memory: no files written here.

The only module that imports ``litert_quantizer``. It imports LiteRT and NumPy, never TensorFlow, so the
supervising process may call it (``workbench quantize`` on a ``.tflite`` the user brings) as well as the
variant notebook (after the converter made the float32 file).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.catalog.quantization import (
    LAYER_PRECISIONS,
    NO_QUANTIZE,
    QUANTIZER_MODES,
    WEIGHTED_OPS,
    RecipeRule,
    quant_mode,
)
from workbench.errors import ModelFileError

#: the quantizer's algorithm: min/max uniform quantization (symmetric channelwise weights)
_ALGORITHM = "min_max_uniform_quantize"


def recipe(mode: str, layers: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The LiteRT Quantizer recipe (its JSON form) of quantizer ``mode``; ValueError for another mode.

    ``layers``: only the ops whose output tensor has one of these names (the quantizer's "scope"); others
    stay float. Empty: every op the recipe's rules name."""
    info = quant_mode(mode)
    if info.tool == "quantizer" and not info.recipe:  # mixed: the variant's own recipe, quantize_recipe
        raise ValueError(f"'{mode}' has no fixed recipe: it applies a variant's `recipe` (quantize_recipe)")
    if info.tool != "quantizer":
        raise ValueError(f"'{mode}' is a converter mode; the LiteRT Quantizer makes {', '.join(QUANTIZER_MODES)}")
    scope = _scope(layers) if layers else ".*"
    return [_rule(r, op, scope) for r in info.recipe for op in r.operators]


def _scope(layers: Sequence[str]) -> str:
    """The quantizer's regex for the ops whose output tensor is one of ``layers`` (its scope of an op: the
    output tensor names, each followed by ";")."""
    return "^(" + "|".join(re.escape(n) for n in layers) + ");$"


def layer_recipe(assignment: Mapping[str, str], operators: Mapping[str, str]) -> list[dict[str, Any]]:
    """A per-layer precision assignment as a LiteRT Quantizer recipe (its JSON form).

    Without a static layer (``int16x8``, ``int8``, ``int8x4``): one rule per (precision, operator) other than float32,
    scoped by a regex naming its layers; float32 layers get no rule (the quantizer leaves them alone).

    With one: the recipe starts with a background rule, every operator (``.*``, ``*``) static at ``int8``
    (``int16x8`` when every static layer is int16x8), so the operators without weights between static layers
    (add, mean, pad, reshape, softmax...) run integer too, the model's input and output staying float32
    (``no_quantize`` rules on INPUT and OUTPUT); then every weighted layer gets an explicit rule that overrides
    it (the quantizer's later rules win), float32 layers a ``no_quantize`` one. The quantizer inserts a
    quantize / dequantize pair wherever a float operator meets an integer one.

    Args:
        assignment: layer (an op's output tensor name in the float file) -> a ``LAYER_PRECISIONS`` name.
        operators: layer -> its operator (``CONV_2D``, ...): the rules in a fixed order (sorted), so the same
            assignment is the same recipe.
    Raises:
        ValueError: an unknown precision, a layer without an operator, or a precision the operator cannot take.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for layer, name in assignment.items():
        if name not in LAYER_PRECISIONS:
            raise ValueError(f"layer {layer}: unknown precision '{name}'; allowed: {', '.join(LAYER_PRECISIONS)}")
        op = operators.get(layer)
        if op is None:
            raise ValueError(f"layer {layer}: not an operator with weights in this .tflite")
        if op not in LAYER_PRECISIONS[name].operators:
            raise ValueError(f"layer {layer}: {op} cannot take {name}")
        groups.setdefault((name, op), []).append(layer)
    static = {name for name, _ in groups if LAYER_PRECISIONS[name].static}
    order = list(LAYER_PRECISIONS)
    rules = [_precision_rule(name, op, _scope(sorted(layers)))
             for (name, op), layers in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))
             if static or name != "float32"]
    if not static:
        return rules
    background = "int16x8" if static == {"int16x8"} else "int8"
    return [_precision_rule(background, "*", ".*"), *(_no_quantize(io, ".*") for io in ("INPUT", "OUTPUT")),
            *rules]


def _no_quantize(operator: str, scope: str) -> dict[str, Any]:
    return {"regex": scope, "operation": operator, "algorithm_key": NO_QUANTIZE, "op_config": {}}


def _precision_rule(name: str, operator: str, scope: str) -> dict[str, Any]:
    p = LAYER_PRECISIONS[name]
    if p.kind == "float32":  # only in a recipe with static layers: overrides the background
        return _no_quantize(operator, scope)
    if p.kind == "float16":  # the quantizer's float casting: float16 weights, float compute
        return {"regex": scope, "operation": operator, "algorithm_key": "float_casting",
                "op_config": {"weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
                              "compute_precision": "FLOAT", "explicit_dequantize": True, "skip_checks": False,
                              "min_weight_elements": 0}}
    if p.static:  # the quantizer's static_wi8_ai8 / _wi8_ai16 / _wi4_ai8: int16 symmetric, int8 asymmetric
        rule = _rule(RecipeRule("dynamic", p.bits), operator, scope)
        rule["op_config"] = {"activation_tensor_config": {"num_bits": p.activation_bits,
                                                          "symmetric": p.activation_bits == 16,
                                                          "granularity": "TENSORWISE", "dtype": "INT"},
                             **rule["op_config"]}
        return rule
    return _rule(RecipeRule(p.kind, p.bits), operator, scope)  # type: ignore[arg-type]


def weighted_layers(float_tflite: bytes) -> dict[str, str]:
    """The layers a per-layer recipe can assign: output tensor name -> operator, for every operator with
    weights (``WEIGHTED_OPS``) in the file, in graph order."""
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(model_content=float_tflite,
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    names = {d["index"]: d["name"] for d in interp.get_tensor_details()}
    return {names[int(op["outputs"][0])]: op["op_name"] for op in interp._get_ops_details()
            if op["op_name"] in WEIGHTED_OPS and len(op["outputs"])}


def layer_weights(float_tflite: bytes) -> dict[str, int]:
    """How many weights each layer of ``weighted_layers`` holds (the elements of its weight input, input 1 of
    every ``WEIGHTED_OPS`` operator: a conv's filter, a matmul's or an embedding's table), in graph order."""
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(model_content=float_tflite,
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    return {details[int(op["outputs"][0])]["name"]: int(np.prod(details[int(op["inputs"][1])]["shape"]))
            for op in interp._get_ops_details()
            if op["op_name"] in WEIGHTED_OPS and len(op["outputs"]) and len(op["inputs"]) > 1}


def _rule(rule: RecipeRule, operator: str, scope: str) -> dict[str, Any]:
    weight_only = rule.kind == "weight_only"
    return {"regex": scope, "operation": operator, "algorithm_key": _ALGORITHM,
            "op_config": {"weight_tensor_config": {"num_bits": rule.bits, "symmetric": True,
                                                   "granularity": "CHANNELWISE", "dtype": "INT"},
                          "compute_precision": "FLOAT" if weight_only else "INTEGER",
                          "explicit_dequantize": weight_only, "skip_checks": False, "min_weight_elements": 0}}


def quantize_tflite(float_tflite: bytes, mode: str, layers: tuple[str, ...] = ()) -> bytes:
    """Rewrite a float32 ``.tflite`` with the recipe of quantizer ``mode``.

    Args:
        float_tflite: the float32 flatbuffer (converter output or a user's file).
        mode: one of ``QUANTIZER_MODES``.
        layers: quantize only the ops with these output tensor names (the others stay float); empty: all.
    Returns:
        The quantized flatbuffer (same input and output signature, float32 I/O).
    Raises:
        ValueError: not a quantizer mode.
        ModelFileError: the bytes are not a float .tflite the quantizer can read, or it quantized nothing.
    """
    return quantize_recipe(float_tflite, recipe(mode, layers), mode)


#: samples of a model's default signature: one array (N, ...) for a one-input model (or a structured array,
#: a field per input: ``workbench.data.Dataset``), or one ``{input name: array}`` per sample
Samples = list[dict[str, Any]] | np.ndarray


def quantize_recipe(float_tflite: bytes, rules: Sequence[Mapping[str, Any]], what: str = "this recipe",
                    calibration: Samples | None = None) -> bytes:
    """Rewrite a float32 ``.tflite`` with a LiteRT Quantizer recipe (its JSON form: a mode's, ``layer_recipe``'s,
    or one written in an experiment file). The same bytes, recipe and calibration samples give the same bytes
    (SHA-256).

    Args:
        calibration: samples of the default signature (``Samples``); used only when the recipe quantizes
            activations with calibrated ranges (static int8 / int16 layers): the quantizer runs the float model
            on them in order (one thread) and keeps a running average of each tensor's min / max (its default).
    Raises:
        ModelFileError: the quantizer cannot read the file or apply the recipe, it quantized nothing, or the
            recipe needs calibration samples and none were given.
    """
    rules = [dict(r) for r in rules]
    from litert_quantizer import quantizer  # ~0.7 s: LiteRT's interpreter and flatbuffer tools

    for name in ("absl", "litert_quantizer"):  # its per-call progress report goes to the absl logger
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        q = quantizer.Quantizer(bytearray(float_tflite), rules)
        if q.need_calibration and (calibration is None or not len(calibration)):
            raise ModelFileError(f"{what} has static int8 / int16 activations: it needs calibration samples "
                                 "(inputs of the model, e.g. the experiment's calibration draw)")
        # 0.11 draws progress bars while calibrating and rewriting whatever enable_progress_bar says, and warns
        # that its interpreters preserve every tensor: kept off stderr
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calibrated = (q.calibrate(_signature_data(float_tflite, calibration), num_threads=1)
                          if q.need_calibration and calibration is not None else None)
            out = q.quantize(calibrated, enable_progress_bar=False, enable_progress_report=False).quantized_model
    except ModelFileError:
        raise
    except Exception as exc:  # the quantizer raises many types for a file it cannot read
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelFileError(f"the LiteRT Quantizer cannot make {what} from this .tflite "
                             f"({type(exc).__name__}: {first})") from None
    if out is None or _narrow_tensors(bytes(out)) == _narrow_tensors(bytes(float_tflite)):
        raise ModelFileError(f"the LiteRT Quantizer quantized nothing in this .tflite for {what} (no operator "
                             "with float weights it supports: is the file already quantized?)")
    return bytes(out)


def _signature_data(float_tflite: bytes, samples: Samples) -> dict[str, list[dict[str, Any]]]:
    """``samples`` as the quantizer's calibrate / validate take them: {signature key: one dict per sample}."""
    from litert_quantizer.utils import tfl_interpreter_utils

    from workbench.tflite_model import split_inputs

    interp = tfl_interpreter_utils.create_tfl_interpreter(bytes(float_tflite), use_xnnpack=False, num_threads=1,
                                                          preserve_all_tensors=False)
    key, signature = next(iter(interp.get_signature_list().items()))
    if isinstance(samples, np.ndarray):  # one sample per row; inputs named by the signature
        names = list(signature["inputs"])
        columns = split_inputs(samples, names)
        samples = [{n: c[i:i + 1].astype(np.float32) for n, c in zip(names, columns, strict=True)}
                   for i in range(len(samples))]
    samples = list(samples)
    inputs = interp.get_signature_runner(key).get_input_details()
    first = samples[0] if samples else {}
    for name, d in inputs.items():  # a sample of another shape would stop the interpreter mid-way
        want = tuple(int(v) for v in d["shape_signature"][1:])
        got = tuple(np.shape(first[name]))[1:] if name in first else None
        if got is None or len(got) != len(want) or any(w not in (-1, g) for w, g in zip(want, got, strict=True)):
            raise ValueError(f"the calibration samples do not fit: input {name} takes samples of shape {want}, got "
                             f"{'none' if got is None else got}")
    return {key: samples}


def _narrow_tensors(content: bytes) -> int:
    """How many tensors of the flatbuffer hold 4-, 8- or 16-bit integers or float16 (the quantizer adds some)."""
    from ai_edge_litert import schema_py_generated as schema

    kinds = {schema.TensorType.INT4, schema.TensorType.INT8, schema.TensorType.UINT8, schema.TensorType.INT16,
             schema.TensorType.FLOAT16}
    model = schema.Model.GetRootAs(content, 0)
    return sum(model.Subgraphs(g).Tensors(t).Type() in kinds
               for g in range(model.SubgraphsLength()) for t in range(model.Subgraphs(g).TensorsLength()))


#: the quantizer's per-tensor error metrics we keep (its names): higher SNR / cosine = closer to float
ERROR_METRICS = ("snr", "cosine_similarity", "mse")
_SNR_EPSILON = 1e-9  # litert_quantizer.utils.validation_utils.signal_to_noise_ratio's default


def tensor_errors(float_tflite: bytes, quantized_tflite: bytes, samples: Samples | None = None) -> dict[str, dict[str, float]]:
    """The LiteRT Quantizer's numerical comparison of every tensor of ``quantized_tflite`` against the same
    tensor of ``float_tflite`` (its ``validate``: both run on LiteRT, XNNPACK, side by side).

    Args:
        float_tflite: the float32 flatbuffer the quantized one was made from (tensors matched by name).
        quantized_tflite: the quantized flatbuffer (from any tool).
        samples: inputs of the default signature, one ``{input name: array}`` per sample, or for a model with
            one input an array of samples (N, ...); None: one sample of random normal data (the quantizer's
            own default: a sanity check, not a measure of accuracy).
    Returns:
        tensor name -> {"snr": power ratio, "snr_db", "cosine_similarity", "mse"} for the tensors both files
        have (``snr_db`` only where the tensor changed at all).
    Raises:
        ModelFileError: the quantizer cannot run or compare the two files.
    """
    from litert_quantizer import quantizer
    from litert_quantizer.utils import validation_utils

    metrics = [validation_utils.ValidationErrorMetric(m) for m in ERROR_METRICS]
    try:
        q = quantizer.Quantizer(bytearray(float_tflite), previous_quantized_model=bytearray(quantized_tflite))
        data = None if samples is None else _signature_data(float_tflite, samples)
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its interpreters preserve every tensor, and say so
            result = q.validate(test_data=data, error_metrics=metrics, num_threads=1)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelFileError(f"the LiteRT Quantizer cannot compare these .tflite files ({type(exc).__name__}: "
                             f"{first})") from None
    out = {}
    for name, v in result.get_all_tensor_results().items():
        row = {m: float(v[m]) for m in ERROR_METRICS if m in v}
        mse = row.get("mse", 0.0)
        if mse > 0 and row.get("snr", 0.0) > 0:
            # the quantizer's SNR is P_signal / (mse + 1e-9): the 1e-9 undone, or tensors with tiny values
            # (an untrained model's, ~1e-11) would all read -130 dB
            row["snr_db"] = 10.0 * math.log10(row["snr"] * (mse + _SNR_EPSILON) / mse)
        out[name] = row
    return out
