"""Expand an experiment's ``matrix`` block into variants (cartesian product over list values).

    matrix:
      quantization: [float32, int8]
      steps:                       # optional: one chain per entry, each a list of step mappings
        - []
        - [{technique: prune, sparsity: [0.5, 0.8]}]

``runtime: [litert, onnxruntime, openvino]`` measures each combination on each runtime (names get a
``_<runtime>`` suffix). Inside a step mapping a list value is an axis too. Names are generated from the values unless a
``name`` template (str.format over the axis values) is given.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

_LIST_KEYS_OF_STEPS = {"types", "names"}  # list-valued step fields that are data, not axes
_MATRIX_KEYS = {"quantization", "steps", "name", "calibration_samples", "timeout_s", "runtime"}


def _axes(step: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: v for k, v in step.items() if isinstance(v, list) and k not in _LIST_KEYS_OF_STEPS}


def _expand_step(step: dict[str, Any]) -> list[dict[str, Any]]:
    axes = _axes(step)
    if not axes:
        return [step]
    keys = list(axes)
    return [{**step, **dict(zip(keys, combo, strict=True))} for combo in itertools.product(*(axes[k] for k in keys))]


def _expand_chain(chain: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    options = [_expand_step(s) for s in chain]
    return [list(c) for c in itertools.product(*options)] if options else [[]]


def _varied_keys(chains_in: list[list[dict[str, Any]]]) -> set[str]:
    """Step fields that are axes somewhere in the matrix: the only values worth putting in a name."""
    return {k for chain in chains_in for step in chain for k in _axes(step)}


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", str(value)).strip("-")


def _auto_name(steps: list[dict[str, Any]], quant: str, varied: set[str]) -> str:
    parts = []
    for s in steps:
        extras = [f"{k}{_slug(v)}" for k, v in sorted(s.items()) if k in varied and not isinstance(v, dict | list)]
        parts.append("-".join([s.get("technique", "step"), *extras]))
    return "_".join([*parts, quant])


def _runtimes_of(matrix: dict[str, Any]) -> list[Any]:
    """The runtime axis: ``[None]`` (the experiment's target runtime) when the matrix names none."""
    runtimes = matrix.get("runtime", [None])
    return runtimes if isinstance(runtimes, list) else [runtimes]


def _axes_of(matrix: dict[str, Any]) -> tuple[list[Any], list[list[dict[str, Any]]]]:
    """The quantization axis and the step chains of a matrix; ValueError when its shape is wrong."""
    unknown = set(matrix) - _MATRIX_KEYS
    if unknown:
        raise ValueError(f"matrix: unknown key(s) {sorted(unknown)}; allowed: {sorted(_MATRIX_KEYS)}")
    quants = matrix.get("quantization", ["float32"])
    quants = quants if isinstance(quants, list) else [quants]
    chains_in = matrix.get("steps", [[]])
    if not isinstance(chains_in, list) or not all(isinstance(c, list) for c in chains_in):
        raise ValueError("matrix.steps must be a list of step chains (each a list of step mappings)")
    for chain in chains_in:
        for step in chain:
            if not isinstance(step, dict):
                raise ValueError(f"matrix.steps: each step is a mapping like {{technique: prune}}, got {step!r}")
    return quants, chains_in


def count_matrix(matrix: dict[str, Any]) -> int:
    """How many variants ``expand_matrix`` yields, from the axis lengths alone (nothing is expanded);
    raises ValueError on malformed matrices."""
    if not matrix:
        return 0
    quants, chains_in = _axes_of(matrix)
    chains = sum(math.prod(math.prod(len(v) for v in _axes(step).values()) for step in chain) for chain in chains_in)
    return chains * len(quants) * len(_runtimes_of(matrix))


def expand_matrix(matrix: dict[str, Any], taken: frozenset[str] | set[str] = frozenset()) -> Iterator[dict[str, Any]]:
    """Yield the fields of every combination (a named variant mapping, validated by the caller);
    raises ValueError on malformed matrices."""
    if not matrix:
        return
    quants, chains_in = _axes_of(matrix)
    chains = [c for chain in chains_in for c in _expand_chain(chain)]
    varied = _varied_keys(chains_in)
    template = matrix.get("name")
    if template is not None and not isinstance(template, str):
        raise ValueError(f"matrix.name: a name template is a string like '{{quantization}}_x', got {template!r}")
    seen = set(taken)
    for steps, quant, runtime in itertools.product(chains, quants, _runtimes_of(matrix)):
        name = _auto_name(steps, quant, varied) + (f"_{_slug(runtime)}" if "runtime" in matrix else "")
        if template:
            flat = {k: v for s in steps for k, v in s.items()} | {"quantization": quant, "runtime": runtime}
            try:
                name = template.format(**flat)
            except KeyError as exc:
                raise ValueError(f"matrix.name: template field {exc} is not a matrix value") from None
            except (IndexError, ValueError, AttributeError) as exc:
                raise ValueError(f"matrix.name: template {template!r} is not a valid format string ({exc}); "
                                 "use fields like {quantization} or {sparsity}") from None
        if name in seen:
            raise ValueError(f"matrix produces the variant name '{name}' twice; give a 'name' template")
        seen.add(name)
        fields = {"name": name, "steps": steps, "quantization": quant}
        if runtime is not None:
            fields["runtime"] = runtime
        for key in ("calibration_samples", "timeout_s"):
            if key in matrix:
                fields[key] = matrix[key]
        yield fields
