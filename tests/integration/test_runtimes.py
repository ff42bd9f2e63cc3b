"""ONNX Runtime and OpenVINO beside LiteRT, on real runtimes: the ONNX export per mode, accuracy on each
runtime (float32 agreement with Keras >= 0.99 on digits), each runner's protocol, the one-line message of
an absent accelerator, and a variant whose runtime axes include one that cannot be measured."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import write_experiment
from workbench.errors import ProfileError
from workbench.profile import profile_model
from workbench.runtime_model import predict_on
from workbench.spec import TargetSpec

FAST = {"warmup_runs": 2, "min_runs": 10, "min_seconds": 0.05, "max_seconds": 5, "input_source": "random"}


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_model, digits):
    """The tiny digits model as float32 / int8 .tflite (LiteRT's converter) and .onnx (tf2onnx + ORT)."""
    from workbench.convert import convert
    from workbench.convert.onnx import convert_onnx

    out = tmp_path_factory.mktemp("runtimes")
    calib = digits.x_train[np.sort(np.random.default_rng(0).choice(len(digits.x_train), 100, replace=False))]
    paths = {}
    for mode in ("float32", "int8"):
        paths[("tflite", mode)] = out / f"{mode}.tflite"
        paths[("tflite", mode)].write_bytes(convert(tiny_model, mode, calib))
        paths[("onnx", mode)] = out / f"{mode}.onnx"
        paths[("onnx", mode)].write_bytes(convert_onnx(tiny_model, mode, calib))
    return paths


@pytest.mark.parametrize("runtime, fmt", [("litert", "tflite"), ("onnxruntime", "onnx"), ("openvino", "tflite"),
                                          ("openvino", "onnx")])
def test_accuracy_on_each_runtime_agrees_with_keras(files, tiny_model, digits, runtime, fmt):
    keras_top1 = np.argmax(tiny_model.predict(digits.x_test, verbose=0), axis=1)
    agreement = {"int8": 1.0}
    # OpenVINO 2026.4 cannot compile this tiny model's QDQ .onnx ("Can't allocate registers for a snippet");
    # its int8 is measured from the .tflite, which it compiles
    for mode in ("float32",) if (runtime, fmt) == ("openvino", "onnx") else ("float32", "int8"):
        logits = predict_on(runtime, files[(fmt, mode)], digits.x_test)
        assert logits.shape == (len(digits.x_test), digits.num_classes)
        agreement[mode] = float(np.mean(np.argmax(logits, axis=1) == keras_top1))
    assert agreement["float32"] >= 0.99, agreement
    assert agreement["int8"] >= 0.95, agreement  # int8 kernels differ per runtime; still the same model


def test_onnx_modes_shrink_the_file_as_their_names_say(tiny_model, digits):
    from workbench.convert.onnx import convert_onnx

    sizes = {m: len(convert_onnx(tiny_model, m, digits.x_train[:50])) for m in ("float32", "float16", "dynamic", "int8")}
    assert sizes["float16"] < 0.65 * sizes["float32"]
    assert sizes["int8"] < 0.8 * sizes["float32"] and sizes["dynamic"] < 0.8 * sizes["float32"]  # tiny model: scales weigh


@pytest.mark.parametrize("runtime, fmt", [("onnxruntime", "onnx"), ("openvino", "tflite")])
def test_each_runner_follows_the_protocol(files, runtime, fmt):
    r = profile_model(files[(fmt, "int8")], TargetSpec(runtime=runtime, clients=2, load_seconds=0.2, **FAST))
    assert r.request.runtime == runtime and r.runtime.package == runtime
    assert r.tensorflow_imported is False
    assert r.latency.runs >= 10 and r.latency.p50 > 0 and r.init_ms > 0
    assert r.memory.peak_mb >= r.memory.after_allocate_mb > 0 and r.external_peak_rss_mb is not None
    assert r.load is not None and r.load.clients == 2 and min(r.load.per_client_invokes) > 0
    assert r.params()["profile.runtime"].startswith(f"{runtime}==")
    if runtime == "openvino":
        assert any(k.endswith(":u8") or k.endswith(":i8") for k in r.facts["runtime_precisions"]), r.facts
    else:
        assert r.facts["providers"] == ["CPUExecutionProvider"]


@pytest.mark.parametrize("runtime, accelerator, fmt, message", [
    ("onnxruntime", "cuda", "onnx", "accelerator 'cuda' is not available here: ONNX Runtime .* has no "
                                    "CUDAExecutionProvider"),
    ("onnxruntime", "tensorrt", "onnx", "accelerator 'tensorrt' is not available here: ONNX Runtime .* has no "
                                        "TensorrtExecutionProvider"),
    ("openvino", "gpu", "tflite", "accelerator 'gpu' is not available here: OpenVINO .* sees no GPU device"),
    ("litert", "gpu", "tflite", "accelerator 'gpu' is not available here: LiteRT could not place the model on the GPU"),
    ("litert", "npu", "tflite", "accelerator 'npu' is not available here: LiteRT could not place the model on the NPU"),
])
def test_absent_accelerator_fails_in_one_clear_line(files, runtime, accelerator, fmt, message):
    api = "compiled_model" if runtime == "litert" else "interpreter"
    with pytest.raises(ProfileError, match=message):
        profile_model(files[(fmt, "float32")], TargetSpec(runtime=runtime, accelerator=accelerator, api=api, **FAST))
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "profile", str(files[(fmt, "float32")]),
                           "--runtime", runtime, "--accelerator", accelerator], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    assert f"accelerator '{accelerator}' is not available here" in lines[0]


@pytest.mark.slow
def test_variant_on_three_runtimes_with_an_axis_that_cannot_run(project):
    import workbench as wb

    path = write_experiment(project, "rt", variants="variants:\n  - {name: int8, quantization: int8}\n",
                            extra="profiles: [{name: ort, runtime: onnxruntime}, {name: ov, runtime: openvino},\n"
                                  "           {name: trt, runtime: onnxruntime, accelerator: tensorrt}]\n")
    s = wb.run_variant(path, "int8", root=project, track=False)
    for axis in ("ort", "ov"):
        assert s[f"latency_ms_p50.{axis}"] > 0 and 0.9 <= s[f"accuracy.{axis}"] <= 1.0
        assert s[f"agreement.{axis}"] >= 0.95 and s[f"speedup_vs_float.{axis}"] > 0
    assert "latency_ms_p50.trt" not in s and "accuracy.trt" not in s  # nothing pretends it was measured
    failed = [n for n in s["notes"] if n.startswith("profile axis 'trt' (onnxruntime) FAILED: ")]
    assert len(failed) == 1 and "TensorrtExecutionProvider" in failed[0]
    assert s["onnx_size_bytes"] < s["size_bytes.ort"] + 1 and s["size_bytes.ov"] == s["size_bytes"]
    for suffix in ("", ".ort", ".ov"):  # fidelity to the float model on every runtime that ran it
        assert 5.0 < s[f"snr_db{suffix}"] < 200.0 and s[f"cosine_similarity{suffix}"] > 0.9
        assert s[f"max_abs_error{suffix}"] > 0.0


@pytest.mark.parametrize("runtime, fmt", [("litert", "tflite"), ("onnxruntime", "onnx"), ("openvino", "tflite")])
def test_fidelity_against_the_float_outputs_on_each_runtime(files, digits, runtime, fmt):
    from workbench.runtimes import RuntimeFiles, runtime_quality, top1_metrics
    from workbench.tflite_model import TfliteModel

    ref_model = TfliteModel(files[("tflite", "float32")].read_bytes())
    reference = ref_model.predict_outputs(digits.x_test)
    assert np.array_equal(next(iter(reference.values())), ref_model.predict(digits.x_test))
    top1 = np.argmax(next(iter(reference.values())), axis=1)
    by_mode = {}
    for mode in ("float32", "int8"):
        rf = RuntimeFiles(files[("tflite", mode)], {".onnx": files[("onnx", mode)]})
        rq = runtime_quality(rf, [runtime], digits.x_test,
                             lambda outs: top1_metrics(next(iter(outs.values())), digits.y_test, top1, 0.9), reference)
        by_mode[mode] = rq.metrics[runtime]
        assert by_mode[mode]["accuracy"] > 0.3 and by_mode[mode]["agreement"] > 0.9  # labels scored too (chance: 0.1)
    assert by_mode["float32"]["snr_db"] > 60.0 and by_mode["float32"]["cosine_similarity"] > 0.9999
    assert 5.0 < by_mode["int8"]["snr_db"] < by_mode["float32"]["snr_db"]  # quantization noise shows
    assert by_mode["int8"]["max_abs_error"] > by_mode["float32"]["max_abs_error"]


def test_two_outputs_are_paired_by_name_on_litert_and_onnx(tmp_path):
    from workbench._keras import keras
    from workbench.analysis.fidelity import fidelity
    from workbench.convert import convert
    from workbench.convert.onnx import convert_onnx
    from workbench.runtime_model import predict_outputs_on

    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu")(inp)
    model = keras.Model(inp, [keras.layers.Dense(1, name="zz_age")(h), keras.layers.Dense(3, name="aa_kind")(h)])
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    (tmp_path / "m.tflite").write_bytes(convert(model, "float32"))
    (tmp_path / "m.onnx").write_bytes(convert_onnx(model, "float32", None))
    keras_out = dict(zip(("zz_age", "aa_kind"), model.predict(x, verbose=0), strict=True))
    for runtime, name in (("litert", "m.tflite"), ("onnxruntime", "m.onnx")):
        outputs = predict_outputs_on(runtime, tmp_path / name, x)
        assert {k: v.shape for k, v in outputs.items()} == {"zz_age": (20, 1), "aa_kind": (20, 3)}
        m = fidelity(keras_out, outputs)
        assert m["snr_db/zz_age"] > 60.0 and m["snr_db/aa_kind"] > 60.0


def test_openvino_runs_an_int8_io_tflite_with_litert_s_scales(tmp_path, tiny_model, digits):
    """OpenVINO keeps the int8 input/output of an int8_io .tflite but not their scales: inputs are quantized
    and outputs dequantized with the file's own parameters (else accuracy collapses to chance)."""
    from workbench.convert import convert

    path = tmp_path / "int8_io.tflite"
    path.write_bytes(convert(tiny_model, "int8_io", digits.x_train[:100]))
    litert = np.argmax(predict_on("litert", path, digits.x_test), axis=1)
    openvino = np.argmax(predict_on("openvino", path, digits.x_test), axis=1)
    assert float(np.mean(openvino == litert)) >= 0.95
    r = profile_model(path, TargetSpec(runtime="openvino", **{**FAST, "input_source": "test"}), digits.x_test[:32])
    assert r.input_source_used == "random"  # the runner cannot quantize test samples without the scale: says so
