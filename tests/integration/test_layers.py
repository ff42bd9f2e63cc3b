"""Per-node times from the runtimes' own profilers (``workbench profile --layers N``): OpenVINO's performance
counters and ONNX Runtime's profiler name the graph's nodes and add up to a run; LiteRT says it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.profile import profile_model
from workbench.profile.layers import coverage, layer_lines
from workbench.spec import TargetSpec

QUICK = {"threads": 1, "warmup_runs": 2, "min_runs": 10, "min_seconds": 0.1, "max_seconds": 5}


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory) -> Path:
    """Three 256-wide MatMul + Relu layers: enough work per node for a profiler to see."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w = numpy_helper.from_array(rng.normal(size=(256, 256)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"mm{i}"], name=f"dense{i}"),
                  helper.make_node("Relu", [f"mm{i}"], [f"h{i}"], name=f"relu{i}")]
        prev = f"h{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 256])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [64, 256])], inits)
    path = tmp_path_factory.mktemp("layers") / "mlp.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what this ONNX Runtime reads
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_the_profiler_names_the_nodes_and_they_add_up(mlp_onnx, runtime):
    result = profile_model(mlp_onnx, TargetSpec(runtime=runtime, **QUICK), layer_runs=10)
    layers = result.facts["layers"]
    assert layers["profiler"] and layers["runs"] == 10
    names = " ".join(r["node"] for r in layers["nodes"])
    assert all(f"dense{i}" in names or f"mm{i}" in names for i in range(3)), names  # the graph's own names
    assert all(r["ms_p50"] >= 0 for r in layers["nodes"]) and layers["nodes_sum_ms_p50"] > 0
    c = coverage(layers, result.latency.p50)
    assert 0 < c["of_profiled_p50"] <= 1.5, c  # nodes run inside the run: their sum cannot be far above it
    assert "x the p50 of the same runs" in layer_lines(layers, result.latency.p50)[0]


def test_litert_says_it_cannot_time_single_operators(tmp_path):
    from tests.unit.tiny_tflite import dense_tflite

    path = tmp_path / "dense.tflite"
    path.write_bytes(dense_tflite())
    result = profile_model(path, TargetSpec(runtime="litert", **QUICK), layer_runs=5)
    assert result.facts["layers"]["profiler"] == ""
    assert "benchmark_model" in layer_lines(result.facts["layers"], result.latency.p50)[0]


def test_openvino_node_times_land_on_the_tflite_graph_model_explorer_draws(tiny_tflite):
    """OpenVINO compiles its own graph of a .tflite (``Convolution_5862``: renamed, transposed, fused); each executed
    node's time is keyed back to the .tflite op it runs (by the source tensors it outputs, else by its weights), so
    the overlay's keys are names Model Explorer's .tflite adapter puts on that file's nodes."""
    pytest.importorskip("model_explorer")
    from workbench.profile.layers import overlay_values
    from workbench.tflite_model import op_weights
    from workbench.views.model_explorer_app import graph_tensors
    from workbench.views.overlay import node_data, on_graph

    result = profile_model(tiny_tflite, TargetSpec(runtime="openvino", **QUICK), layer_runs=10)
    layers = result.facts["layers"]
    ops = op_weights(tiny_tflite.read_bytes())
    nodes = graph_tensors(tiny_tflite)  # node id -> tensor names, as Model Explorer draws the file
    names = set(nodes) | {t for ts in nodes.values() for t in ts}
    values = overlay_values(layers, ops)
    landed, keys = on_graph(node_data(values), nodes)
    on_graph_ms = sum(v for k, v in values.items() if k in names)
    assert landed >= 0.75 * keys and on_graph_ms >= 0.8 * sum(values.values()), (values, names)
    # every conv and dense layer is run by a node that names it (a node fusing two layers keys on the last one)
    weighted = {op["outputs"][0] for op in ops if op["weights"]}
    covered = {op["outputs"][0] for op in ops for r in layers["nodes"]
               if set(op["weights"]) & set(r.get("weights", [])) or op["outputs"][0] in r.get("tensors", [])}
    assert len(weighted) == 4 and weighted <= covered, (weighted, covered)
    convs = {o for o in weighted if "/conv" in o}  # renamed and transposed by OpenVINO: found by their weights
    assert len(convs) == 2 and convs <= set(values), (convs, values)
    bare = {r["node"].split(" [")[0] for r in layers["nodes"]}  # OpenVINO's own names: what the overlay had before
    assert len(bare & names) < landed
