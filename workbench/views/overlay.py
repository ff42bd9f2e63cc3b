"""Per-node values as a Model Explorer node-data overlay (``ai-edge-model-explorer``), so a graph can be
coloured by sensitivity, quantization error or measured cost.

The file is Model Explorer's ``GraphNodeData`` JSON (its ``node_data_builder``): ``results`` maps a node key
to ``{"value": number}`` and a ``gradient`` colours from the smallest value (stop 0) to the largest (stop 1).
A key is a node's output tensor name (what a ``.tflite`` names its tensors, and what the LiteRT Quantizer and
the sensitivity analysis report) or a node id (an ONNX node's name). Open it beside the model:

    model-explorer model.tflite --node_data_paths=overlay.json --host=127.0.0.1 --port=8080

Pure: builds the dict; ``write_overlay`` is the one function that writes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.files import atomic_write

#: green (good) -> red (bad); reversed when a high value is good (SNR, cosine similarity)
_GOOD, _MID, _BAD = "#1a9850", "#fee08b", "#d73027"


def node_data(values: Mapping[str, float], higher_is_worse: bool = True) -> dict[str, Any]:
    """Model Explorer ``GraphNodeData`` for ``values`` (node key -> number; non-finite values left out).

    Args:
        values: one number per node key.
        higher_is_worse: colour the largest value red (cost, error, sensitivity); False for SNR-like values.
    Raises:
        ValueError: no finite value to show.
    """
    results = {k: {"value": float(v)} for k, v in values.items() if math.isfinite(float(v))}
    if not results:
        raise ValueError("no finite value to put on the graph")
    low, high = (_GOOD, _BAD) if higher_is_worse else (_BAD, _GOOD)
    return {"results": results,
            "gradient": [{"stop": 0, "bgColor": low}, {"stop": 0.5, "bgColor": _MID}, {"stop": 1, "bgColor": high}]}


def write_overlay(path: Path, values: Mapping[str, float], higher_is_worse: bool = True) -> Path:
    """Write ``node_data(values)`` as JSON to ``path`` (atomically); returns the path."""
    atomic_write(path, json.dumps(node_data(values, higher_is_worse), indent=1).encode())
    return path
