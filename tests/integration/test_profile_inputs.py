"""Any model's inputs, stated: dynamic dimensions need a shape, fixed ones never change, every input of a
multi-input model is fed at its own shape and dtype, and input buffers are counted apart from the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ProfileError
from workbench.profile import profile_model
from workbench.spec import TargetSpec

FAST = {"runtime": "onnxruntime", "warmup_runs": 1, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 3}


def _save(graph, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def dynamic_onnx(tmp_path_factory) -> Path:
    """images [N, 3, H, W] -> its mean: every dimension but the channels dynamic."""
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMean", ["images"], ["y"], keepdims=0)
    graph = helper.make_graph([node], "dynamic", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                                ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return _save(graph, tmp_path_factory.mktemp("dyn") / "dynamic.onnx")


@pytest.fixture(scope="module")
def three_input_onnx(tmp_path_factory) -> Path:
    """x [N, 4] float, state [2, T, 8] float (fixed first dim), scale: a scalar, steps [N] int64 (an index)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceSum", ["state"], ["s"], keepdims=0),
             helper.make_node("ReduceSum", ["x"], ["xs"], keepdims=0),
             helper.make_node("Mul", ["xs", "scale"], ["y1"]),
             helper.make_node("Add", ["y1", "s"], ["y2"]),
             helper.make_node("Constant", [], ["table"], value=helper.make_tensor("t", TensorProto.FLOAT, [10], [1.0] * 10)),
             helper.make_node("Gather", ["table", "steps"], ["g"]),  # an index input: out of [0, 10) fails
             helper.make_node("ReduceSum", ["g"], ["gs"], keepdims=0),
             helper.make_node("Add", ["y2", "gs"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
              helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "T", 8]),
              helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("steps", TensorProto.INT64, ["N"])]
    graph = helper.make_graph(nodes, "three", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return _save(graph, tmp_path_factory.mktemp("three") / "three.onnx")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "profile", *args, "--min-runs", "5",
                           "--min-seconds", "0", "--warmup", "1", "--rounds", "1"], capture_output=True, text=True, timeout=300)


def test_dynamic_input_without_a_shape_exits_2_naming_it(dynamic_onnx):
    proc = _cli(str(dynamic_onnx), "--runtime", "onnxruntime")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "dynamic.onnx: input 'images' has dynamic dimensions [?,3,?,?]" in lines[0]
    assert "--input-shape images=1x3x" in lines[0]


def test_input_shape_is_used_and_recorded(dynamic_onnx):
    proc = _cli(str(dynamic_onnx), "--runtime", "onnxruntime", "--input-shape", "images=2x3x32x48")
    assert proc.returncode == 0, proc.stderr
    assert "images 2x3x32x48 float32 (random)" in proc.stdout  # printed
    r = profile_model(dynamic_onnx, TargetSpec(**FAST, input_shapes={"images": [2, 3, 32, 48]}))
    assert [(i.name, i.shape, i.dtype, i.source) for i in r.inputs] == [("images", (2, 3, 32, 48), "float32", "random")]
    assert "images 2x3x32x48 float32 (random)" in r.params()["profile.inputs"]  # logged with the variant


@pytest.mark.parametrize("shapes, needle", [
    ({"image": [1, 3, 8, 8]}, "--input-shape names 'image', which the model does not have; its inputs: 'images' [?,3,?,?]"),
    ({"images": [1, 4, 8, 8]}, "input 'images' is [?,3,?,?], not 1x4x8x8 (fixed dimensions never change)"),
])
def test_a_shape_that_does_not_fit_is_a_one_line_error(dynamic_onnx, shapes, needle):
    with pytest.raises(ProfileError) as info:
        profile_model(dynamic_onnx, TargetSpec(**FAST, input_shapes=shapes))
    assert needle in str(info.value) and "\n" not in str(info.value) and "runner failed" not in str(info.value)


def test_every_input_of_a_multi_input_model_is_fed_at_its_own_shape(three_input_onnx):
    r = profile_model(three_input_onnx, TargetSpec(**FAST, batch=3, input_shapes={"state": [2, 5, 8]}))
    fed = {i.name: (i.shape, i.dtype, i.source) for i in r.inputs}
    assert fed == {"x": ((3, 4), "float32", "random"), "state": ((2, 5, 8), "float32", "random"),
                   "scale": ((), "float32", "random"), "steps": ((3,), "int64", "random")}
    assert r.latency.runs >= 5  # generated indices stayed inside the 10-entry table


def test_npz_keyed_by_input_name_feeds_those_inputs(three_input_onnx, tmp_path):
    samples = {"x": np.ones((6, 4), np.float32), "state": np.zeros((3, 2, 5, 8), np.float32),
               "steps": np.arange(6, dtype=np.int64) % 10}
    r = profile_model(three_input_onnx, TargetSpec(**FAST, input_shapes={"state": [2, 5, 8]}), samples)
    assert {i.name: i.source for i in r.inputs} == {"x": "test", "state": "test", "scale": "random", "steps": "test"}
    assert r.input_source_used == "mixed"
    path = tmp_path / "inputs.npz"
    np.savez(path, **samples)
    proc = _cli(str(three_input_onnx), "--runtime", "onnxruntime", "--inputs", str(path), "--input-shape", "state=2x5x8")
    assert proc.returncode == 0, proc.stderr
    assert "state 2x5x8 float32 (test)" in proc.stdout and "scale scalar float32 (random)" in proc.stdout


def test_npz_naming_no_input_is_a_one_line_error(three_input_onnx):
    with pytest.raises(ProfileError, match="the .npz holds 'image', which name no input of the model"):
        profile_model(three_input_onnx, TargetSpec(**FAST, input_shapes={"state": [2, 5, 8]}),
                      {"image": np.ones((2, 4), np.float32)})


def test_samples_that_do_not_fit_name_the_input_and_its_shape(three_input_onnx):
    bad = {"x": np.ones((2, 4), np.float32), "state": np.zeros((2, 2, 5, 9), np.float32)}
    with pytest.raises(ProfileError) as info:
        profile_model(three_input_onnx, TargetSpec(**FAST, input_shapes={"state": [2, 5, 8]}), bad)
    assert "samples for input 'state' have shape (N, 2, 5, 9)" in str(info.value)
    assert "expected (N, 2, 5, 8)" in str(info.value)  # a fixed first dim: each sample is a whole input


def test_runtime_error_reaches_the_user_whole(three_input_onnx):
    """An index out of the table: ONNX Runtime's own reason, after its node name, reaches the user."""
    samples = {"steps": np.full((4,), 50, np.int64)}
    with pytest.raises(ProfileError) as info:
        profile_model(three_input_onnx, TargetSpec(**FAST, input_shapes={"state": [2, 5, 8]}), samples)
    text = str(info.value)
    assert "Gather" in text and "out of" in text and "\n" not in text, text


def test_input_memory_is_reported_apart_and_peak_does_not_grow_with_samples(dynamic_onnx):
    target = TargetSpec(**{**FAST, "input_source": "test"}, input_shapes={"images": [1, 3, 256, 256]})
    rng = np.random.default_rng(0)
    peaks, inputs = [], []
    for n in (16, 200):  # 200 x 0.75 MB = 150 MB of samples
        r = profile_model(dynamic_onnx, target, rng.standard_normal((n, 3, 256, 256), dtype=np.float32))
        m = r.metrics()
        peaks.append(m["memory_mb_peak"])
        inputs.append(m["memory_mb_inputs"])
        assert r.inputs[0].source == "test"
    assert inputs[0] > 2  # 8 feeds of 0.75 MB, counted apart
    assert abs(peaks[1] - peaks[0]) < 3.0, peaks


@pytest.mark.parametrize("option", ["images", "images=1x3xbig", "images=1x0x8x8", "=1x3"])
def test_malformed_input_shape_option_exits_2(dynamic_onnx, option):
    proc = _cli(str(dynamic_onnx), "--runtime", "onnxruntime", "--input-shape", option)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert f"--input-shape '{option}': expected NAME=DIMS" in proc.stderr
