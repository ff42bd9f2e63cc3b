"""Post-training quantization modes, declared once: what each stores and computes in, which tool makes it,
whether it needs calibration samples. Pure data (no TensorFlow, no I/O).

Two tools make them. The TensorFlow Lite converter (``workbench.convert.tflite``) makes its six modes from
the Keras model. The LiteRT Quantizer (``workbench.convert.quantizer``, the ``litert-quantizer`` package)
rewrites a float32 ``.tflite`` with a recipe: its modes therefore also apply to a ``.tflite`` the user brings
without a Keras model (``workbench quantize``). The spec's ``quantization`` field, the explorer's dropdown,
``validate`` and the CLI's choices all read ``QUANT_MODES`` from here.

A new mode: one ``QuantModeInfo`` record below (for the quantizer, its ``RecipeRule``s); nothing else to edit
unless it needs a new kind of rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Tool = Literal["converter", "quantizer"]
#: how the quantizer treats an operator's weights: "weight_only" dequantizes them to float before a float
#: op (smaller file, float compute); "dynamic" hands int weights to an integer kernel that quantizes the
#: activations on the fly
RuleKind = Literal["weight_only", "dynamic"]


@dataclass(frozen=True)
class RecipeRule:
    """One line of a LiteRT Quantizer recipe: the operators (``"*"``: every one the quantizer supports for
    this kind and width) whose weights get ``bits``-bit channelwise integers. Later rules override earlier
    ones for the operators they name."""

    kind: RuleKind
    bits: int
    operators: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class QuantModeInfo:
    """One post-training quantization mode."""

    name: str  # the spec / CLI / explorer name
    what: str  # what the file stores and computes in (docs, help, the variant's notes)
    tool: Tool = "converter"
    calibrated: bool = False  # needs calibration samples (the converter's full-integer modes)
    recipe: tuple[RecipeRule, ...] = ()  # the quantizer's recipe (tool == "quantizer")


#: operators the quantizer's policy (litert-quantizer 0.11) lets hold int4 weights, per kind; the others
#: (DEPTHWISE_CONV_2D, ...) keep int8 in the int4 modes
INT4_WEIGHT_ONLY = ("CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "EMBEDDING_LOOKUP")
INT4_DYNAMIC = ("CONV_2D", "FULLY_CONNECTED", "EMBEDDING_LOOKUP")

QUANT_MODE_INFO: dict[str, QuantModeInfo] = {m.name: m for m in (
    QuantModeInfo("float32", "float32 weights and activations (reference)"),
    QuantModeInfo("float16", "float16 weights, dequantized to float32 at load; float32 compute"),
    QuantModeInfo("dynamic", "int8 weights, float activations quantized on the fly (dynamic range)"),
    QuantModeInfo("int8", "full integer: int8 weights and activations, float32 input/output", calibrated=True),
    QuantModeInfo("int8_io", "full integer: int8 weights and activations, int8 input/output", calibrated=True),
    QuantModeInfo("int16x8", "int16 activations, int8 weights (float32 input/output)", calibrated=True),
    QuantModeInfo("int8_weights", "LiteRT Quantizer: int8 channelwise weights dequantized to float32 in the graph; "
              "float32 compute", tool="quantizer", recipe=(RecipeRule("weight_only", 8),)),
    QuantModeInfo("int4_weights", "LiteRT Quantizer: int4 channelwise weights (conv, fully connected, matmul, "
              "embedding; int8 in depthwise conv) dequantized to float32 in the graph; float32 compute",
              tool="quantizer", recipe=(RecipeRule("weight_only", 8), RecipeRule("weight_only", 4, INT4_WEIGHT_ONLY))),
    QuantModeInfo("int4_dynamic", "LiteRT Quantizer: int4 channelwise weights (int8 in depthwise conv), activations "
              "quantized to int8 on the fly by the kernels (dynamic range)", tool="quantizer",
              recipe=(RecipeRule("dynamic", 8), RecipeRule("dynamic", 4, INT4_DYNAMIC))),
    # calibrated stays False: only a recipe with static layers needs samples (recipe_needs_calibration), and
    # the variant's build passes the experiment's calibration draw to every recipe (ignored when none needs it)
    QuantModeInfo("mixed", "LiteRT Quantizer: a per-layer precision recipe (the variant's `recipe`, e.g. one "
              "`workbench search --precision` found): each layer float32, float16, int16x8, int8 or int8x4 "
              "(static, calibrated), int8 or int4 weights", tool="quantizer"),
)}
QUANT_MODES: tuple[str, ...] = tuple(QUANT_MODE_INFO)
#: the modes the LiteRT Quantizer makes from a float32 .tflite by a fixed recipe (``mixed`` takes the variant's)
QUANTIZER_MODES: tuple[str, ...] = tuple(m.name for m in QUANT_MODE_INFO.values() if m.tool == "quantizer" and m.recipe)
#: the mode whose recipe is the variant's own (``VariantSpec.recipe``)
MIXED = "mixed"


@dataclass(frozen=True)
class LayerPrecision:
    """One precision a single layer (an operator with weights) can get in a per-layer recipe: the rule the
    quantizer applies to that operator, or none (float32). ``operators``: the operators it applies to (the
    quantizer's policy, litert-quantizer 0.11); ``bits``: of each weight; ``activation_bits``: of the
    activations a static precision quantizes with calibrated ranges (0: float activations)."""

    name: str
    what: str
    kind: RuleKind | Literal["float16", "float32", "static"]
    bits: int
    operators: tuple[str, ...]
    activation_bits: int = 0

    @property
    def static(self) -> bool:
        """Integer activations with calibrated ranges: the recipe needs calibration samples."""
        return self.kind == "static"


#: every operator whose weights the per-layer search assigns a precision to
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "EMBEDDING_LOOKUP",
                "CONV_2D_TRANSPOSE")
#: the weighted operators the quantizer's policy lets run static with int8 weights (``static_wi8_ai8`` /
#: ``static_wi8_ai16``; not EMBEDDING_LOOKUP); with int4 weights (``static_wi4_ai8``) only conv and fully connected
STATIC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "CONV_2D_TRANSPOSE")
#: the per-layer precisions, declared once: the search's choices, the recipe builder's rules, the docs' table.
#: Ordered from the largest file to the smallest, by weight width; among the int8-weight ones (files within a
#: few percent of one another) the static ones first. A precision an operator cannot take falls back
#: (``analysis.precision.fit_precision``) to the previous one of its own kind it can, else the previous one:
#: int4 weights in a depthwise conv to int8 weights (float compute, as int4's), int8x4 to static int8, a
#: static one in an embedding lookup to float16 (int8x4's to int4 weights).
LAYER_PRECISIONS: dict[str, LayerPrecision] = {p.name: p for p in (
    LayerPrecision("float32", "float32 weights and compute (the layer untouched)", "float32", 32, WEIGHTED_OPS),
    LayerPrecision("float16", "float16 weights cast to float32 in the graph; float32 compute", "float16", 16,
                   ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "EMBEDDING_LOOKUP", "CONV_2D_TRANSPOSE")),
    LayerPrecision("int16x8", "static: int16 activations (symmetric, ranges calibrated), int8 channelwise "
                   "weights; integer compute", "static", 8, STATIC_OPS, activation_bits=16),
    LayerPrecision("int8", "static: int8 activations (asymmetric, ranges calibrated), int8 channelwise weights; "
                   "integer compute (the fast one on XNNPACK)", "static", 8, STATIC_OPS, activation_bits=8),
    LayerPrecision("int8_dynamic", "int8 weights, activations quantized to int8 on the fly (dynamic range)",
                   "dynamic", 8, ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL",
                                  "EMBEDDING_LOOKUP", "CONV_2D_TRANSPOSE")),
    LayerPrecision("int8_weights", "int8 weights dequantized to float32 in the graph; float32 compute",
                   "weight_only", 8, WEIGHTED_OPS),
    LayerPrecision("int4_weights", "int4 weights dequantized to float32 in the graph; float32 compute",
                   "weight_only", 4, INT4_WEIGHT_ONLY),
    LayerPrecision("int8x4", "static: int8 activations (asymmetric, ranges calibrated), int4 channelwise weights; "
                   "integer compute", "static", 4, ("CONV_2D", "FULLY_CONNECTED"), activation_bits=8),
)}


def layer_choices(operator: str) -> tuple[str, ...]:
    """The precisions a layer of ``operator`` can get (float32 always)."""
    return tuple(p.name for p in LAYER_PRECISIONS.values() if operator in p.operators)


def quant_mode(name: str) -> QuantModeInfo:
    """The mode called ``name``; ValueError naming the known ones."""
    try:
        return QUANT_MODE_INFO[name]
    except KeyError:
        raise ValueError(f"unknown quantization mode '{name}'; allowed: {', '.join(QUANT_MODES)}") from None


#: the keys every rule of a LiteRT Quantizer recipe (its JSON form) has
RECIPE_KEYS = ("regex", "operation", "algorithm_key", "op_config")


def recipe_problem(rules: Sequence[Any]) -> str | None:
    """Why ``rules`` is not a LiteRT Quantizer recipe in its JSON form (a non-empty list of rules, each with
    ``RECIPE_KEYS``), or None. The quantizer itself judges the values when it applies it."""
    if not rules:
        return "is empty; give at least one rule (the quantizer's JSON recipe: a list of rules)"
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            return f"rule {i} is not a mapping with keys {', '.join(RECIPE_KEYS)}"
        missing = [k for k in RECIPE_KEYS if k not in r]
        if missing:
            return f"rule {i} lacks {', '.join(missing)} (each rule has {', '.join(RECIPE_KEYS)})"
        if not isinstance(r["op_config"], Mapping) or not all(isinstance(r[k], str) for k in RECIPE_KEYS[:3]):
            return f"rule {i}: regex, operation and algorithm_key are strings, op_config a mapping"
    return None


#: the quantizer's algorithm key that leaves an operator float (a recipe rule overriding an earlier one)
NO_QUANTIZE = "no_quantize"


def recipe_needs_calibration(rules: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a recipe (its JSON form) quantizes activations with calibrated ranges: a rule with integer compute
    and an ``activation_tensor_config``, or the GPTQ algorithm (the quantizer's own ``need_calibration``,
    without loading the model). Such a recipe is applied with calibration samples."""
    for r in rules:
        if r.get("algorithm_key") == "GPTQ":
            return True
        config = r.get("op_config")
        if r.get("algorithm_key") == NO_QUANTIZE or not isinstance(config, Mapping):
            continue
        if config.get("compute_precision") == "INTEGER" and config.get("activation_tensor_config"):
            return True
    return False


def recipe_hash(rules: Sequence[Mapping[str, Any]]) -> str:
    """A short hash (12 hex digits) of a recipe's canonical JSON: names a found recipe (``mixed-<hash>``)."""
    return hashlib.sha256(json.dumps(list(rules), sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
