"""The per-layer precision search's pure parts: which layers it decides one by one (the most sensitive, by
the quantizer's per-tensor evidence) and which together, an assignment from the optimiser's choices, the seeds
it starts from, and the budgets as constraints. No optimiser, runtime or file here (``run/precision.py``).

A *group* is a set of layers that get one precision: each of the ``individual`` most sensitive layers alone,
the rest together, so a MobileNetV2 (53 weighted layers) is searched in 9 dimensions, not 53. A precision a
layer's operator cannot take (int4 in a depthwise convolution) falls back to the next larger one it can.
Static precisions (``int16x8``, ``int8``, ``int8x4``: integer activations, calibrated) are chosen per group like the
others; the recipe builder (``convert.quantizer.layer_recipe``) makes the operators between them integer too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.catalog.metrics import objectives
from workbench.catalog.quantization import LAYER_PRECISIONS

#: what the search trades: the accuracy change against float, the file size, the p50 measured on the target
OBJECTIVES: tuple[tuple[str, str], ...] = objectives("accuracy_delta", "size_bytes", "latency_ms_p50")
#: the precisions the search chooses from, smallest file last (``LAYER_PRECISIONS``' order)
CHOICES: tuple[str, ...] = tuple(LAYER_PRECISIONS)
REST = "rest"
#: the largest layers of the rest (together half of its weights): most of the file, and in a convolutional
#: network mostly the late 1x1 convolutions, which run at the lowest resolution (little compute per weight)
LARGE = "rest_large"


@dataclass(frozen=True)
class Group:
    """Layers that get one precision: ``key`` names the optimiser's parameter."""

    key: str
    layers: tuple[str, ...]


def fit_precision(precision: str, operator: str) -> str:
    """``precision`` if ``operator`` can take it, else the next larger one it can of the same kind (static or
    not: int8x4 in a depthwise conv -> static int8, int4 weights -> int8 weights), else the next larger one it
    can (float32 always can)."""
    order = list(LAYER_PRECISIONS)
    larger = list(reversed(order[: order.index(precision) + 1]))
    static = LAYER_PRECISIONS[precision].static
    for name in [n for n in larger if LAYER_PRECISIONS[n].static == static] + larger:
        if operator in LAYER_PRECISIONS[name].operators:
            return name
    return "float32"


def rank_layers(layers: Mapping[str, str], snr_db: Mapping[str, float]) -> list[str]:
    """The layers, most sensitive first: lowest SNR (dB) of the layer's output with int4 weights everywhere;
    a layer without a figure last, in graph order."""
    order = list(layers)
    return sorted(order, key=lambda n: (snr_db.get(n, float("inf")), order.index(n)))


def make_groups(layers: Mapping[str, str], snr_db: Mapping[str, float], individual: int,
                weights: Mapping[str, int] | None = None) -> list[Group]:
    """The ``individual`` most sensitive layers each alone (``L0``, ``L1``, ... by rank), the others as one
    group (``rest``); no ``rest`` when every layer is decided alone. With ``weights`` (layer -> weight count)
    and at least 4 layers in the rest, its largest layers, together at least half of its weights, form their
    own group (``rest_large``, before ``rest``): the file's size is mostly theirs, so a precision can shrink
    them alone."""
    if individual < 0:
        raise ValueError(f"individual must be >= 0, got {individual}")
    ranked = rank_layers(layers, snr_db)
    groups = [Group(f"L{i}", (name,)) for i, name in enumerate(ranked[:individual])]
    rest = tuple(n for n in layers if n not in set(ranked[:individual]))
    large: set[str] = set()
    if weights and len(rest) >= 4:
        total, held = sum(weights.get(n, 0) for n in rest), 0
        for name in sorted(rest, key=lambda n: (-weights.get(n, 0), rest.index(n))):
            if held * 2 >= total:
                break
            large.add(name)
            held += weights.get(name, 0)
        if len(large) == len(rest):
            large = set()
    if large:
        groups.append(Group(LARGE, tuple(n for n in rest if n in large)))
        rest = tuple(n for n in rest if n not in large)
    return groups + ([Group(REST, rest)] if rest else [])


def assignment(groups: Sequence[Group], choice: Mapping[str, str], layers: Mapping[str, str]) -> dict[str, str]:
    """Layer -> precision from one choice per group (fitted to each layer's operator), in graph order."""
    out = {}
    for g in groups:
        for name in g.layers:
            out[name] = fit_precision(choice[g.key], layers[name])
    return {n: out[n] for n in layers if n in out}


def uniform(groups: Sequence[Group], precision: str) -> dict[str, str]:
    """The same precision for every group: the search's uniform references."""
    return {g.key: precision for g in groups}


#: the uniform assignments measured first (the search's references): every layer in one precision
UNIFORM = ("int4_weights", "int8_weights", "int8_dynamic", "float16", "int8", "int16x8", "int8x4")
#: the evidence's guesses, "``base`` everywhere except the k most sensitive layers at ``keep``": (base, keep, k),
#: measured in this order after the uniform ones. int4 weights make the smallest files; static int8 the fastest
#: on LiteRT's XNNPACK (weight-only int8 / int4 dequantize every weight on every invoke there)
EXCEPT_SEEDS = (("int4_weights", "int8_weights", 1), ("int8", "float32", 1), ("int4_weights", "int8_weights", 2),
                ("int8", "float32", 2), ("int4_weights", "int8_weights", 4), ("int8", "float32", 4),
                ("int4_weights", "float16", 1), ("int8", "int16x8", 1))


#: "``base`` everywhere except the largest layers (``largest_groups``: half the weights) at ``large``": (base,
#: large), measured right after the uniform ones. Static int8 is the fast precision on XNNPACK; int4 weights in the largest layers, which
#: hold half the weights and run at low resolution, halve most of the file at little compute
SIZE_SEEDS = (("int8", "int8x4"), ("int8", "int4_weights"))


def largest_groups(groups: Sequence[Group], weights: Mapping[str, int]) -> list[str]:
    """The largest layers as groups: ``rest_large`` when there is one (the rest's largest layers, half its
    weights; the most sensitive layers stay out of it), else the keys of the largest groups (by weights),
    taken largest first until they hold at least half of all the weights; empty when that would be every
    group (then it is a uniform assignment, not a seed)."""
    if any(g.key == LARGE for g in groups):
        return [LARGE]
    held = {g.key: sum(weights.get(n, 0) for n in g.layers) for g in groups}
    total, taken, out = sum(held.values()), 0, []
    for key in sorted(held, key=lambda k: -held[k]):
        if taken * 2 >= total:
            break
        out.append(key)
        taken += held[key]
    return out if 0 < len(out) < len(groups) else []


def seeds(groups: Sequence[Group], weights: Mapping[str, int] | None = None) -> list[dict[str, str]]:
    """Choices the search measures before the optimiser draws: the uniform references (``UNIFORM``), then the
    per-layer evidence's guesses (``EXCEPT_SEEDS``: int4 everywhere except the k most sensitive layers kept at
    int8 weights, k = 1, 2, 4, or at float16 for k = 1; static int8 everywhere except the k most sensitive kept
    at float32, k = 1, 2, 4, or at int16x8 for k = 1), each while some group stays at its base. Duplicates
    dropped, order kept."""
    out = [uniform(groups, p) for p in UNIFORM]
    big = largest_groups(groups, weights or {})
    out += [{g.key: large if g.key in big else base for g in groups} for base, large in SIZE_SEEDS if big]
    alone = [g for g in groups if g.key not in (REST, LARGE)]
    for base, keep, k in EXCEPT_SEEDS:
        if k <= len(alone) and k < len(groups):
            out.append({g.key: keep if g in alone[:k] else base for g in groups})
    unique: list[dict[str, str]] = []
    for s in out:
        if s not in unique:
            unique.append(s)
    return unique


def seed_label(choice: Mapping[str, str], groups: Sequence[Group], weights: Mapping[str, int] | None = None) -> str:
    """How a seed reads in the search's rows (``origin``): ``uniform int8``, ``seed: int8 except 2 most
    sensitive at float32``; ``seed`` for another choice."""
    values = set(choice.values())
    if len(values) == 1:
        (only,) = values
        return f"uniform {only}" if only in UNIFORM else "seed"
    base = choice[groups[-1].key]  # the least sensitive group keeps the base precision
    kept = [g.key for g in groups if choice[g.key] != base]
    short = {"int4_weights": "int4"}.get(base, base)
    if kept and sorted(kept) == sorted(largest_groups(groups, weights or {})):
        return f"seed: {short} except the largest layers (half the weights) at {choice[kept[0]]}"
    return f"seed: {short} except {len(kept)} most sensitive at {choice[kept[0]]}"


def budget_excess(row: Mapping[str, Any], budgets: Any) -> dict[str, float]:
    """How far ``row`` is over each budget the experiment sets, relative to the limit (0.1 = 10% over; <= 0:
    within), by budget name: the optimiser's constraints. The same limits as ``pareto.budget_violations``;
    the accuracy drop's excess is in points over the allowed drop (relative to it, or to 1 point when 0)."""
    out = {}
    if budgets.max_accuracy_drop is not None:
        drop, limit = -float(row["accuracy_delta"]), budgets.max_accuracy_drop
        out["max_accuracy_drop"] = (drop - limit) / (limit or 1.0)
    if budgets.max_latency_ms is not None:
        out["max_latency_ms"] = float(row["latency_ms_p50"]) / budgets.max_latency_ms - 1.0
    if budgets.max_size_kb is not None:
        out["max_size_kb"] = float(row["size_bytes"]) / 1024.0 / budgets.max_size_kb - 1.0
    if budgets.max_memory_mb is not None:
        out["max_memory_mb"] = float(row["memory_mb_peak"]) / budgets.max_memory_mb - 1.0
    return out


def objective_values(row: Mapping[str, Any]) -> list[float]:
    """The row's ``OBJECTIVES`` in their order (the optimiser's directions come from the same list)."""
    return [float(row[m]) for m, _ in OBJECTIVES]
