"""The runtime as a spec field and an analysis dimension, without any runtime or TensorFlow: defaults keep
ids, bad combinations are refused in one line, the matrix has a runtime axis, and the (variant, runtime)
pairs the dashboard decides over."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.analysis.pareto import pareto_front, recommend, runtime_pairs, runtime_payoff
from workbench.catalog import accelerators, runtime_names
from workbench.errors import ModelFileError
from workbench.profile.targets import check_model_file
from workbench.spec import BaselineSpec, BudgetSpec, ExperimentSpec, TargetSpec, VariantSpec, variant_id

BASE = BaselineSpec(model="digits_cnn", dataset="digits")


def test_default_runtime_keeps_every_existing_id():
    v = VariantSpec(name="int8", quantization="int8")
    old = variant_id(v, BASE, "fp", TargetSpec())
    assert variant_id(v, BASE, "fp", TargetSpec(runtime="litert", accelerator="cpu")) == old
    assert variant_id(v, BASE, "fp", TargetSpec(runtime="onnxruntime")) != old
    assert variant_id(v.model_copy(update={"runtime": "openvino"}), BASE, "fp", TargetSpec()) != old


@pytest.mark.parametrize("fields, message", [
    ({"runtime": "onnxruntime", "accelerator": "gpu"}, "accelerator 'gpu' is not one of onnxruntime's: cpu, cuda, tensorrt"),
    ({"runtime": "litert", "accelerator": "cuda"}, "accelerator 'cuda' is not one of litert's: cpu, gpu, npu"),
    ({"runtime": "openvino", "kernels": "reference"}, "kernels: 'reference' is a LiteRT option; runtime openvino"),
    ({"runtime": "onnxruntime", "api": "compiled_model"}, "api: 'compiled_model' is a LiteRT option"),
    ({"accelerator": "gpu"}, "LiteRT's accelerators need api: compiled_model"),
    ({"runtime": "tvm"}, "unknown runtime 'tvm'; known: " + ", ".join(runtime_names())),
    ({"accelerator": "tpu"}, "unknown accelerator 'tpu'; known: " + ", ".join(accelerators())),
])
def test_bad_runtime_combinations_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        TargetSpec(**fields)


def test_accelerators_exist_for_every_runtime():
    for runtime, accelerator in [("litert", "gpu"), ("litert", "npu"), ("onnxruntime", "cuda"),
                                 ("onnxruntime", "tensorrt"), ("openvino", "gpu"), ("openvino", "npu")]:
        api = "compiled_model" if runtime == "litert" else "interpreter"
        assert TargetSpec(runtime=runtime, accelerator=accelerator, api=api).accelerator == accelerator


def test_matrix_runtime_axis_and_profile_axes():
    spec = ExperimentSpec.model_validate({
        "name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
        "profiles": [{"name": "ov", "runtime": "openvino"}, {"name": "t2", "threads": 2}],
        "matrix": {"quantization": ["float32", "int8"], "runtime": ["litert", "onnxruntime"]}})
    variants = {v.name: v for v in spec.resolved_variants()}
    assert list(variants) == ["float32_litert", "float32_onnxruntime", "int8_litert", "int8_onnxruntime"]
    ort = variants["int8_onnxruntime"]
    assert spec.target_for(ort).runtime == "onnxruntime" and spec.target_for(variants["int8_litert"]).runtime == "litert"
    axes = spec.profile_targets(ort)
    assert axes["ov"].runtime == "openvino" and axes["t2"].runtime == "onnxruntime" and axes["t2"].threads == 2


def test_profile_axis_with_a_litert_option_on_another_runtime_is_refused():
    with pytest.raises(ValidationError, match=r"profiles.0 \(ort\).*kernels: 'reference' is a LiteRT option"):
        ExperimentSpec.model_validate({"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
                                       "profiles": [{"name": "ort", "runtime": "onnxruntime", "kernels": "reference"}]})


def test_model_file_must_suit_the_runtime(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07rest-of-a-model")
    check_model_file(onnx, "onnxruntime")
    check_model_file(onnx, "openvino")
    with pytest.raises(ModelFileError, match=r"LiteRT runs \.tflite files, not \.onnx; profile it with --runtime "
                                             r"onnxruntime or openvino"):
        check_model_file(onnx, "litert")
    with pytest.raises(ModelFileError, match=r"ONNX Runtime runs \.onnx files, not \.tflite; .*--runtime litert or openvino"):
        check_model_file(tmp_path / "m.tflite", "onnxruntime")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"TFL3 not onnx")
    with pytest.raises(ModelFileError, match="not an ONNX model"):
        check_model_file(bad, "onnxruntime")


def _row(name, acc, p50, **axes):
    row = {"variant": name, "variant_id": name, "technique": "t", "status": "FINISHED", "run_id": f"run-{name}",
           "accuracy": acc, "accuracy_delta": 0.0, "latency_ms_p50": p50, "speedup_vs_float": 1.0, "runtime": "litert",
           "axes_status": {}}
    for axis, values in axes.items():
        if values is None:
            row["axes_status"][axis] = "FAILED: onnx export failed"
            continue
        row["axes_status"][axis] = "FINISHED"
        row.update({f"{k}.{axis}": v for k, v in values.items()})
    return row


def test_pairs_are_what_the_front_and_the_recommendation_see():
    rows = [_row("float32", 0.98, 3.0, ort={"accuracy": 0.98, "latency_ms_p50": 2.0}),
            _row("int8", 0.97, 1.5, ort={"accuracy": 0.97, "latency_ms_p50": 2.5, "speedup_vs_float": 0.8},
                 ov=None)]
    rows[1].update(speedup_vs_float=2.0, speedup_vs_float_ci_low=1.9, speedup_vs_float_ci_high=2.1)
    pairs = runtime_pairs(rows, "litert", {"ort": "onnxruntime", "ov": "openvino"})
    names = [p["variant"] for p in pairs]
    assert names == ["float32 @ litert", "float32 @ onnxruntime", "float32 @ openvino",
                     "int8 @ litert", "int8 @ onnxruntime", "int8 @ openvino"]
    failed = {p["variant"]: p["reason"] for p in pairs if p.get("status") == "FAILED"}
    assert failed == {"float32 @ openvino": "axis 'ov' has no measurement", "int8 @ openvino": "onnx export failed"}
    ok = [p for p in pairs if p.get("status") != "FAILED"]
    assert set(pareto_front(ok)) == {"float32 @ onnxruntime", "int8 @ litert"}  # float32 @ litert is dominated
    best, _ = recommend(ok, BudgetSpec(max_latency_ms=2.2))
    assert best is not None and best["variant"] == "float32 @ onnxruntime" and best["run_id"] == "run-float32"
    assert runtime_payoff(pairs) == ["int8: pays off on litert (x2.00, 1.90-2.10), not on onnxruntime (x0.80)"]


def _profile(p50_ms: float, runtime: str = "litert", precision: str = ""):
    """A parsed runner result (the captured one) whose samples sit around ``p50_ms`` on ``runtime``."""
    import json
    from pathlib import Path

    from workbench.profile import parse_result

    raw = json.loads((Path(__file__).resolve().parent.parent / "data" / "profile_result.json").read_text())
    raw = {k: v for k, v in raw.items() if k not in ("stats", "metrics", "load")}
    raw["request"].update(runtime=runtime, load_seconds=0.0, clients=1)
    raw["samples_ms"] = [p50_ms * (1 + 0.001 * (i % 5)) for i in range(60)]
    raw["runtime"]["package"] = {"litert": "ai-edge-litert"}.get(runtime, runtime)
    if runtime != "litert":
        raw["ignored_options"] = []
        for key in ("ops", "op_count", "delegated_ops", "fallback_ops"):
            raw.pop(key, None)
    if precision:
        raw["inference_precision"] = precision
    return parse_result(raw)


def test_runtime_notes_say_what_failed_and_where_a_variant_pays_off():
    from workbench.profile.stats import ratio_of_rounds
    from workbench.runtimes import AxesProfile, runtime_notes, verdict

    main = TargetSpec()
    axes = {"ort": TargetSpec(runtime="onnxruntime"), "ov": TargetSpec(runtime="openvino"),
            "trt": TargetSpec(runtime="onnxruntime", accelerator="tensorrt")}
    measured = AxesProfile(results={"ort": _profile(2.0, "onnxruntime"), "ov": _profile(1.0, "openvino", "bf16")},
                           float_results={"ort": _profile(1.8, "onnxruntime"), "ov": _profile(2.0, "openvino")},
                           failed={"trt": "no TensorrtExecutionProvider"},
                           speedups={"ort": ratio_of_rounds([1.8, 1.8, 1.8], [2.0, 2.0, 2.0]),
                                     "ov": ratio_of_rounds([2.0, 2.1, 1.9], [1.0, 1.0, 1.0]),
                                     "trt": ratio_of_rounds([2.0], [1.0])})
    main_speedup = ratio_of_rounds([3.0, 3.0], [1.0, 1.0])
    assert verdict(main_speedup) == (True, "pays off")
    assert verdict(ratio_of_rounds([1.0, 1.2, 0.9], [1.0, 1.0, 1.0])) == (False, "no measurable difference")
    notes = runtime_notes(main, main_speedup, axes, measured, [_profile(1.0), *measured.results.values()], "int8")
    assert notes[0] == "profile axis 'trt' (onnxruntime) FAILED: no TensorrtExecutionProvider"
    assert notes[1].startswith("pays off on litert (x3.00, 3.00-3.00), openvino (x2.00, 1.76-2.26) but not on "
                               "onnxruntime (x0.90, 0.90-0.90)")
    float_notes = runtime_notes(main, None, axes, AxesProfile(results=measured.results), measured.results.values(),
                                "float32")
    assert float_notes == ["OpenVINO computed this float model in bf16 (its default on this CPU): its latency and "
                           "accuracy are that precision's"]
