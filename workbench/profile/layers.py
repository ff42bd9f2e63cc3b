"""Per-node times as the runner's ``layers`` record holds them (``workbench profile --layers N``): pure
functions from that record to lines for people, to the values of a Model Explorer overlay, and the check that
the nodes add up to the run."""

from __future__ import annotations

from typing import Any


def coverage(layers: dict[str, Any], p50_ms: float) -> dict[str, float]:
    """How far the nodes account for the run: the per-run sum of node times (median over runs) over the
    end-to-end p50 of the same profiled runs, and over ``p50_ms`` (the timed loop's, profiler off)."""
    total = float(layers["nodes_sum_ms_p50"])
    return {"of_profiled_p50": total / float(layers["e2e_ms_p50"]), "of_p50": total / p50_ms if p50_ms else 0.0}


def layer_lines(layers: dict[str, Any], p50_ms: float, top: int = 10) -> list[str]:
    """What ``workbench profile`` prints for a ``layers`` record: the profiler, the sums, the slowest nodes."""
    if not layers.get("profiler"):
        return [f"  layers      {layers.get('note', 'no per-operator profiler')}"]
    c = coverage(layers, p50_ms)
    nodes = layers["nodes"]
    out = [f"  layers      {layers['profiler']}, {layers['runs']} runs, {len(nodes)} nodes: their sum "
           f"{layers['nodes_sum_ms_p50']:.3f} ms = {c['of_profiled_p50']:.2f} x the p50 of the same runs "
           f"({layers['e2e_ms_p50']:.3f} ms), {c['of_p50']:.2f} x the timed p50 ({p50_ms:.3f} ms, profiler off); "
           f"the nodes' own medians add up to {layers['nodes_ms_p50_sum']:.3f} ms (less when stalls hit a different "
           "node each run)"]
    for r in nodes[:top]:
        share = r["ms_p50"] / layers["nodes_sum_ms_p50"] if layers["nodes_sum_ms_p50"] else 0.0
        out.append(f"    {r['ms_p50']:8.3f} ms {share:6.1%}  {r['type']:<18} {r['node'][:90]}")
    return out


def overlay_values(layers: dict[str, Any], source_ops: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """Each node's median ms keyed the way Model Explorer finds a node: by the source graph's tensor the node
    computes (a .tflite's tensor names, which Model Explorer matches against each op's outputs).

    Args:
        layers: the runner's record; a row's ``tensors`` (source tensors it outputs) come first, then its
            ``weights`` (digests of its source layers' weights) looked up in ``source_ops``, else the node's name
            as the runtime gives it (the source layers it fused, in brackets, dropped).
        source_ops: the source .tflite's ops (``tflite_model.op_weights``): a weight digest found on exactly one
            op keys the node by that op's first output.
    Nodes that land on one key (a node split in several kernels) add up.
    """
    owners: dict[str, set[str]] = {}
    for op in source_ops or []:
        for digest in op["weights"]:
            owners.setdefault(digest, set()).update(op["outputs"][:1])
    by_weights = {d: next(iter(o)) for d, o in owners.items() if len(o) == 1}  # a digest two ops share names none
    out: dict[str, float] = {}
    for r in layers.get("nodes", []):
        found = [by_weights[w] for w in r.get("weights", []) if w in by_weights]
        key = r["tensors"][0] if r.get("tensors") else found[0] if found else r["node"].split(" [")[0]
        out[key] = out.get(key, 0.0) + float(r["ms_p50"])
    return out
