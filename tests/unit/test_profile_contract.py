"""The runner contract, without LiteRT or TensorFlow: the request carries exactly what runner.py reads, and
a runner result parses once into typed records whose metrics and params are the ones MLflow history has."""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ProfileError
from workbench.profile import ProfileRequest, ProfileResult, parse_result
from workbench.profile.request import LAUNCHER_FIELDS
from workbench.profile.targets import BACKENDS, RUNNER, _interpret_exit
from workbench.spec import TargetSpec

#: a real `workbench profile --json --clients 2 --load-seconds 0.2` result on a tiny CNN, samples trimmed;
#: its "stats" and "metrics" were computed by the ProfileResult this contract replaced
CAPTURED = Path(__file__).resolve().parent.parent / "data" / "profile_result.json"
FILE_FIELDS = {"model_path", "input_path", "output"}
#: sent by the caller per profile, not a target option (``workbench profile --layers N``)
CALL_FIELDS = {"layer_runs"}
REQUEST_FIELDS = [f.name for f in dataclasses.fields(ProfileRequest)]
#: a target where every option the runner reads differs from its default
#: (constructed without validation: no valid target sets LiteRT's options and another runtime at once)
NON_DEFAULT = TargetSpec.model_construct(**{
    **TargetSpec().model_dump(), "runtime": "openvino", "accelerator": "gpu", "threads": 3, "api": "compiled_model",
    "xnnpack": False, "kernels": "reference", "batch": 2, "input_shapes": {"x": [2, 3]}, "input_source": "random", "warmup_runs": 4, "min_runs": 7,
    "min_seconds": 0.5, "max_runs": 70, "max_seconds": 9.0, "cpu_pin": [0], "clients": 2, "load_seconds": 1.5})


def _runner_tree() -> ast.Module:
    return ast.parse(RUNNER.read_text())


def _runner_trees() -> list[ast.Module]:
    """The protocol (runner.py) and every runtime backend it loads (runners/*.py)."""
    return [_runner_tree(), *(ast.parse(p.read_text()) for p in sorted(BACKENDS.glob("*.py")))]


def _request_subscripts(tree: ast.Module) -> set[str]:
    """Every key the runner reads as ``req["key"]``."""
    return {node.slice.value for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "req"
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)}


def _captured() -> dict[str, Any]:
    return dict(json.loads(CAPTURED.read_text()))


def _raw() -> dict[str, Any]:
    """The runner's own output inside the captured file (without what ProfileResult.to_json added)."""
    return {k: v for k, v in _captured().items() if k not in ("stats", "metrics")}


def _edited(path: str, value: Any = ..., raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the raw result with the dotted ``path`` deleted (no value) or set to ``value``."""
    out = copy.deepcopy(raw if raw is not None else _raw())
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


def _compiled_model_raw() -> dict[str, Any]:
    """What the runner writes for the compiled_model API: no op details, the ignored options listed."""
    raw = _raw()
    for key in ("ops", "op_count", "delegated_ops", "fallback_ops", "load"):
        del raw[key]
    raw["request"].update(api="compiled_model", clients=1, load_seconds=0.0)
    raw["runtime"]["api"] = "compiled_model"
    raw["ignored_options"] = ["threads", "xnnpack"]
    return raw


# --- the request -------------------------------------------------------------------------------------------

def test_runner_reads_exactly_the_request_fields():
    tree = _runner_tree()
    assert set().union(*(_request_subscripts(t) for t in _runner_trees())) == set(REQUEST_FIELDS)
    declared = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "REQUEST_FIELDS" for t in node.targets))
    assert list(declared) == REQUEST_FIELDS


def test_runner_has_no_defaults_of_its_own():
    gets = [node.lineno for tree in _runner_trees() for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "req"]
    assert gets == [], f"runner.py reads the request with .get() on line(s) {gets}"


def test_every_target_field_is_sent_or_stays_with_the_launcher():
    sent = set(REQUEST_FIELDS) - FILE_FIELDS - CALL_FIELDS
    assert sent.isdisjoint(LAUNCHER_FIELDS)
    assert set(TargetSpec.model_fields) == sent | LAUNCHER_FIELDS


def test_from_target_copies_every_option():
    defaults, target = TargetSpec().model_dump(), NON_DEFAULT.model_dump()
    req = ProfileRequest.from_target(Path("/m/model.tflite"), NON_DEFAULT, Path("/m/inputs.npy"),
                                     Path("/m/out.json"))
    sent = json.loads(req.to_json())
    assert list(sent) == REQUEST_FIELDS  # every field, always, in the declared order
    assert sent["model_path"] == "/m/model.tflite" and sent["input_path"] == "/m/inputs.npy"
    assert sent["output"] == "/m/out.json"
    assert sent["layer_runs"] == 0  # only `--layers N` asks for per-node times
    for key in set(REQUEST_FIELDS) - FILE_FIELDS - CALL_FIELDS:
        assert target[key] != defaults[key], key  # the comparison below could fail for every field
        assert sent[key] == target[key], key


def test_request_json_is_the_dict_the_runner_got_before():
    req = ProfileRequest.from_target("m.tflite", TargetSpec(), None, "")
    before = {"model_path": "m.tflite", "input_path": "", "output": "",
              **TargetSpec().model_dump(exclude=set(LAUNCHER_FIELDS)), "layer_runs": 0}
    assert json.loads(req.to_json()) == before
    assert req.input_path == "" and req.cpu_pin is None


def _load_runner() -> Any:
    spec = importlib.util.spec_from_file_location("wb_runner_under_test", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # stdlib only at import: LiteRT loads inside main(), after the check
    return module


@pytest.mark.parametrize("drop, add, expected", [
    ("threads", {}, "is missing field(s): threads"),
    (None, {"thread": 2}, "has unknown field(s): thread"),
])
def test_runner_reports_a_malformed_request(tmp_path, capsys, drop, add, expected):
    out = tmp_path / "result.json"
    req = {**ProfileRequest.from_target("m.tflite", TargetSpec(), None, out).to_dict(), **add}
    req.pop(drop, None)
    (tmp_path / "request.json").write_text(json.dumps(req))
    assert _load_runner().main(["runner.py", str(tmp_path / "request.json")]) == 1
    result = json.loads(out.read_text())
    assert result["error"] == f"ValueError: the request {expected}"
    assert expected in capsys.readouterr().err
    with pytest.raises(ProfileError, match=re.escape(expected)):
        _interpret_exit("m.tflite", 1, out.read_text(), "")


# --- the result --------------------------------------------------------------------------------------------

def test_captured_result_gives_the_same_metrics_stats_and_json():
    captured = _captured()
    result = parse_result(_raw())
    assert result.metrics() == captured["metrics"]  # exact: same samples, same pure functions
    assert list(result.metrics()) == list(captured["metrics"])
    assert result.latency.to_dict() == captured["stats"]
    assert json.loads(result.to_json()) == captured


def test_params_keep_their_names_and_values():
    assert parse_result(_raw()).params() == {
        "profile.accelerator": "cpu", "profile.threads": 1, "profile.xnnpack": True, "profile.kernels": "optimized",
        "profile.api": "interpreter", "profile.batch": 1, "profile.input_source": "random",
        "profile.warmup_runs": 2, "profile.min_runs": 20, "profile.min_seconds": 0.05,
        "profile.max_runs": 10000, "profile.max_seconds": 30.0, "profile.cpu_pin": None, "profile.clients": 2,
        "profile.load_seconds": 0.2,
        "profile.input_source_used": "random", "profile.runtime": "ai-edge-litert==2.3.0",
    }
    pinned = _edited("request.cpu_pin", [0, 1])
    assert parse_result(pinned).params()["profile.cpu_pin"] == [0, 1]  # a list, as MLflow has always seen it


def test_captured_result_typed_fields():
    raw = _raw()
    r = parse_result(raw)
    assert isinstance(r, ProfileResult) and r.raw is raw
    assert r.request == ProfileRequest(
        model_path="tiny.tflite", input_path="", output="", runtime="litert", accelerator="cpu", threads=1, api="interpreter", xnnpack=True,
        kernels="optimized", batch=1, input_shapes={}, input_source="random", warmup_runs=2, min_runs=20, min_seconds=0.05,
        max_runs=10000, max_seconds=30.0, cpu_pin=None, clients=2, load_seconds=0.2)
    assert r.samples_ms == tuple(raw["samples_ms"]) and r.latency.runs == 60
    assert (r.memory.baseline_mb, r.memory.after_load_mb, r.memory.after_allocate_mb, r.memory.peak_mb) == (
        raw["memory_mb"]["baseline"], raw["memory_mb"]["after_load"], raw["memory_mb"]["after_allocate"],
        raw["memory_mb"]["peak"])
    assert r.ops.names[-1] == "DELEGATE" and len(r.ops.delegated) == 6 and r.ops.fallback == ()
    assert r.load is not None and r.load.clients == 2 and r.load.per_client_invokes == (20, 20)
    assert r.load.latency is not None and r.load.latency.runs == len(r.load.samples_ms) == 40
    assert r.runtime.version == "2.3.0" and r.input_source_used == "random" and r.ignored_options == ()
    assert r.tensorflow_imported is False and r.external_peak_rss_mb == raw["external_peak_rss_mb"]
    assert json.dumps(r.device) == json.dumps(raw["device"])  # the workbench.device tag stays byte-identical
    assert "remote" not in r.device


def test_compiled_model_result_has_no_ops_and_lists_ignored_options():
    r = parse_result(_compiled_model_raw())
    assert r.ops.names == r.ops.delegated == r.ops.fallback == ()
    assert r.ignored_options == ("threads", "xnnpack") and r.load is None
    m = r.metrics()
    assert m["ops_fallback"] == 0.0 and not any(k.startswith("load_") for k in m)


def test_ssh_result_keeps_the_remote_host_in_the_fingerprint():
    raw = _edited("device.remote", "pi@device")
    del raw["external_peak_rss_mb"]  # only a local parent polls the runner's memory
    r = parse_result(raw)
    assert r.device.get("remote") == "pi@device" and r.external_peak_rss_mb is None
    assert json.dumps(r.device) == json.dumps(raw["device"])


def test_load_without_successful_invokes_has_no_load_latency():
    raw = _edited("load.samples_ms", [])
    r = parse_result(raw)
    assert r.load is not None and r.load.latency is None
    assert "load_throughput_ips" in r.metrics() and "load_latency_ms_p50" not in r.metrics()


@pytest.mark.parametrize("path", [
    "request", "request.threads", "request.cpu_pin", "samples_ms", "init_ms", "loop_seconds",
    "throughput_ips", "memory_mb", "memory_mb.peak", "memory_mb.after_allocate", "input_source_used",
    "runtime.version", "device", "device.cpu_model", "tensorflow_imported", "fallback_ops", "delegated_ops",
    "ops", "load", "load.samples_ms", "load.peak_mb",
])
def test_missing_key_is_a_profile_error_naming_it(path):
    with pytest.raises(ProfileError, match=re.escape(f"'{path}' is missing")):
        parse_result(_edited(path))


def test_compiled_model_result_must_list_its_ignored_options():
    raw = _compiled_model_raw()
    del raw["ignored_options"]
    with pytest.raises(ProfileError, match="'ignored_options' is missing"):
        parse_result(raw)


@pytest.mark.parametrize("path, value, message", [
    ("init_ms", "26.1", "'init_ms' should be a number, got str"),
    ("request.threads", True, "'request.threads' should be an integer, got bool"),
    ("request.xnnpack", 1, "'request.xnnpack' should be true or false, got int"),
    ("memory_mb", None, "'memory_mb' should be an object, got null"),
    ("fallback_ops", "CONV_2D", "'fallback_ops' should be a list of strings, got str"),
    ("samples_ms", [0.1, "0.2"], "'samples_ms[1]' should be a number, got str"),
    ("request.cpu_pin", [0, 1.5], "'request.cpu_pin[1]' should be an integer, got float"),
    ("samples_ms", [], "'samples_ms': no latency samples"),
    ("load.samples_ms", [0.1, -1.0], "'load.samples_ms': latency samples must be finite and non-negative"),
])
def test_wrong_type_is_a_profile_error_naming_the_key(path, value, message):
    with pytest.raises(ProfileError, match=re.escape(message)):
        parse_result(_edited(path, value))


def test_a_result_that_is_not_an_object_is_a_profile_error():
    with pytest.raises(ProfileError, match="the result should be an object, got list"):
        parse_result([])
    with pytest.raises(ProfileError, match="m.tflite: runner output is not JSON"):
        _interpret_exit("m.tflite", 0, '{"samples_ms": [0.1,', "")


# --- inputs, errors and placement (runner.py helpers, no runtime needed) --------------------------------------

def _details(*inputs: tuple[str, list[int]]) -> list[dict[str, Any]]:
    return [{"name": n, "shape": s, "dtype": "float32", "quantization": (0.0, 0)} for n, s in inputs]


def _req(batch: int = 1, **shapes: list[int]) -> dict[str, Any]:
    return {"batch": batch, "input_shapes": shapes}


def test_shapes_keep_fixed_dims_and_scalars_and_give_batch_to_a_dynamic_first_dim():
    resolve = _load_runner().resolve_shapes
    details = _details(("x", [-1, 4]), ("state", [2, -1, 8]), ("scale", []))
    assert resolve(details, _req(3, state=[2, 5, 8])) == [[3, 4], [2, 5, 8], []]
    assert resolve(_details(("images", [-1, 3, -1, -1])), _req(images=[4, 3, 64, 64])) == [[4, 3, 64, 64]]


@pytest.mark.parametrize("details, req, message", [
    (_details(("images", [-1, 3, -1, -1])), _req(),
     "input 'images' has dynamic dimensions [?,3,?,?]; give its shape with --input-shape images=1x3xD2xD3"),
    (_details(("a", [-1, -1]), ("b", [2, -1])), _req(),
     "inputs 'a' has dynamic dimensions [?,?] and 'b' has dynamic dimensions [2,?]; give their shapes with "
     "--input-shape a=1xD1 --input-shape b=2xD1"),
    (_details(("x", [1, 4])), _req(x=[2, 4]), "input 'x' is [1,4], not 2x4 (fixed dimensions never change)"),
    (_details(("x", [1, 4])), _req(x=[1, 4, 1]), "input 'x' is [1,4], not 1x4x1"),
    (_details(("x", [-1, 4])), _req(y=[1, 4]), "--input-shape names 'y', which the model does not have; its inputs: 'x' [?,4]"),
    (_details(("x", [1, 4])), _req(4), "--batch 4 cannot apply: no input has a dynamic first dimension ('x' [1,4])"),
])
def test_shapes_that_cannot_be_resolved_are_one_input_error(details, req, message):
    runner = _load_runner()
    with pytest.raises(runner.InputError) as info:
        runner.resolve_shapes(details, req)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text, folded", [
    ("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: state for the following indices\n"
     " index: 0 Got: 1 Expected: 2\n Please fix either the inputs/outputs or the model.",
     "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: state for the following indices | "
     "index: 0 Got: 1 Expected: 2 | Please fix either the inputs/outputs or the model."),
    ("Exception from src/inference/src/cpp/core.cpp:97:\nException from src/frontends/tflite/src/frontend.cpp:12:\n"
     "Check 'is_conversion_successful' failed\nFrontEnd API failed with OpConversionFailure:\nunsupported op FOO",
     "Check 'is_conversion_successful' failed | FrontEnd API failed with OpConversionFailure: | unsupported op FOO"),
    ("one line", "one line"),
])
def test_a_runtime_error_is_folded_whole_onto_one_line(text, folded):
    assert _load_runner()._reason(RuntimeError(text)) == folded


def test_a_long_runtime_error_is_capped():
    reason = _load_runner()._reason(RuntimeError("\n".join(["x" * 100] * 30)))
    assert len(reason) == 1000 and reason.endswith("...")


@pytest.mark.parametrize("fields, cores, pinned", [
    ({}, {0, 1}, [1]),  # 1 thread: the highest-numbered core, the supervisor keeps to the other
    ({"threads": 2}, {0, 1}, None),  # threads >= cores: not pinned, and the note says so
    ({"threads": 2}, {0, 1, 2, 3}, [2, 3]),
    ({"clients": 2, "load_seconds": 1.0}, {0, 1}, None),  # the load scenario needs a core per client
    ({"cpu_pin": [0]}, {0, 1}, [0]),
])
def test_placement_keeps_the_runner_on_cores_of_its_own(fields, cores, pinned):
    from workbench.profile.targets import placement

    cpus, note = placement(TargetSpec(**fields), cores)
    assert cpus == pinned
    assert ("shares its cores" in note) == (pinned is None)


def test_input_records_and_memory_apart_parse_and_reach_metrics_and_params():
    raw = _raw()
    raw["memory_mb"] = {**raw["memory_mb"], "inputs": 12.5, "peak_setup": raw["memory_mb"]["peak"]}
    raw["inputs"] = [{"name": "state", "shape": [2, 5, 8], "dtype": "float32", "source": "test", "buffers": 8,
                      "bytes": 2560}, {"name": "scale", "shape": [], "dtype": "float32", "source": "random",
                                       "buffers": 4, "bytes": 16}]
    r = parse_result(raw)
    m, before = r.metrics(), parse_result(_raw()).metrics()
    assert m["memory_mb_inputs"] == 12.5 and m["memory_mb_peak"] == pytest.approx(max(0.0, before["memory_mb_peak"] - 12.5))
    assert r.params()["profile.inputs"] == "state 2x5x8 float32 (test); scale scalar float32 (random)"
    with pytest.raises(ProfileError, match=re.escape("'inputs[1].source' is missing")):
        del raw["inputs"][1]["source"]
        parse_result(raw)


def test_target_input_shapes_take_positive_sizes_and_are_sent():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="input_shapes.images.1"):
        TargetSpec(input_shapes={"images": [1, 0, 640, 640]})
    req = ProfileRequest.from_target("m.onnx", TargetSpec(input_shapes={"images": [1, 3, 640, 640]}))
    assert json.loads(req.to_json())["input_shapes"] == {"images": [1, 3, 640, 640]}
