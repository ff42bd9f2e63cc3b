"""Per-node values as a Model Explorer node-data overlay (``ai-edge-model-explorer``), so a graph can be
coloured by sensitivity, quantization error or measured cost.

The file is Model Explorer's ``GraphNodeData`` JSON (its ``node_data_builder``): ``results`` maps a node key
to ``{"value": number}`` and a ``gradient`` colours from the smallest value (stop 0) to the largest (stop 1).
A key is a node's output tensor name (what a ``.tflite`` names its tensors, and what the LiteRT Quantizer and
the sensitivity analysis report) or a node id (an ONNX node's name). Open it beside the model:

    workbench graph model.tflite --overlay overlay.json        # http://127.0.0.1:8080, offline

Pure: builds the dict; ``write_overlay`` is the one function that writes, ``read_overlay`` the one that reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.files import atomic_write, read_bounded

MAX_OVERLAY_BYTES = 256 << 20  # a node-data file is JSON; anything larger is not one

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


def read_overlay(path: Path) -> dict[str, Any]:
    """The node data in ``path`` (a ``GraphNodeData``, or Model Explorer's ``{graph id: GraphNodeData}``), checked
    the way Model Explorer reads it, before a server is started for it.

    Raises:
        WorkbenchError: not a regular file, not JSON, or no ``results`` of node key -> ``{"value": ...}``.
    """
    raw = read_bounded(path, MAX_OVERLAY_BYTES, "overlay")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"overlay {path} is not JSON ({exc}); give a node-data file "
                             "(`workbench profile --overlay`, `workbench quantize --overlay`)") from None
    graphs = [data] if isinstance(data, dict) and "results" in data else (
        list(data.values()) if isinstance(data, dict) else [])
    if not graphs or not all(isinstance(g, dict) and isinstance(g.get("results"), dict)
                             and all(isinstance(r, dict) and "value" in r for r in g["results"].values())
                             for g in graphs):
        shape = '{"results": {node: {"value": number}}}'
        raise WorkbenchError(f"overlay {path} is not Model Explorer node data ({shape}); give a file "
                             "`workbench profile --overlay` or `workbench quantize --overlay` wrote")
    return data


def on_graph(data: Mapping[str, Any], nodes: Mapping[str, list[str]]) -> tuple[int, int]:
    """How many of an overlay's keys name a node of the graph (its id, or a tensor it outputs), of how many:
    a key that names none colours nothing (e.g. a runtime's own node name on the source model's graph)."""
    graphs = [data] if "results" in data else list(data.values())
    keys = {k for g in graphs for k in g["results"]}
    names = set(nodes) | {t for tensors in nodes.values() for t in tensors}
    return len(keys & names), len(keys)
