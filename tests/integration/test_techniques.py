"""Each training-time technique on a tiny model, checked by what it does to the exported .tflite.

The technique tests call ``apply_steps`` and ``convert`` directly (no spec file, cache or run); the
tests at the end go through ``workbench.pipeline`` (a variant's cells: compress, convert, evaluate, profile).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_experiment
from workbench.spec import TrainingSpec, VariantSpec
from workbench.tflite_model import TfliteModel, accuracy, max_unique_per_channel, max_unique_values, sparsity

pytestmark = pytest.mark.tf

FAST = {"epochs": 1, "learning_rate": 0.001}
TRAINING = TrainingSpec(batch_size=32, seed=0)


def export(model, digits, steps, quantization="float32"):
    """Compress ``model`` with ``steps`` and convert it; returns (ChainResult, TfliteModel)."""
    from workbench.compress import apply_steps
    from workbench.convert import convert

    spec = VariantSpec.model_validate({"name": "t", "steps": steps, "quantization": quantization})
    result = apply_steps(model, spec.steps, digits, TRAINING)
    qat = any(s.technique == "qat" for s in spec.steps)
    content = convert(result.model, quantization, digits.x_train[:50], qat=qat)
    return result, TfliteModel(content)


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_pruning_reaches_target_sparsity_in_export(tiny_model, digits, quantization):
    r, tfl = export(tiny_model, digits, [{"technique": "prune", "sparsity": 0.7, "epochs": 2}], quantization)
    assert sparsity(tfl.kernel_tensors()) >= 0.7 - 0.02
    assert r.facts["pruned_layers"] == ["conv1", "conv2", "fc1", "logits"]


def test_pruning_by_name_pattern_touches_only_those_layers(tiny_model, digits):
    r, tfl = export(tiny_model, digits, [{"technique": "prune", "sparsity": 0.7, "epochs": 2,
                                          "layers": {"names": ["^fc"]}}])
    assert r.facts["pruned_layers"] == ["fc1"]
    ks = sorted(tfl.kernel_tensors().values(), key=lambda k: -k.size)
    assert np.mean(ks[0] == 0) >= 0.68  # fc1 is the largest kernel
    assert all(np.mean(k == 0) < 0.1 for k in ks[1:])


def test_constant_schedule(tiny_model, digits):
    _, tfl = export(tiny_model, digits, [{"technique": "prune", "sparsity": 0.5, "schedule": "constant", "epochs": 1}])
    assert sparsity(tfl.kernel_tensors()) >= 0.48


def test_two_of_four_blocks_along_input_channels(tiny_model, digits):
    _, tfl = export(tiny_model, digits, [{"technique": "prune_structured", **FAST}], "int8")
    for k in tfl.kernel_tensors().values():
        blocks = k.reshape(-1, k.shape[-1])  # TFLite kernels: [out, ..., in]; input channels last
        usable = blocks.shape[1] // 4 * 4
        groups = blocks[:, :usable].reshape(blocks.shape[0], -1, 4)
        if usable:
            assert ((groups == 0).sum(axis=2) >= 2).all()


@pytest.mark.parametrize("clusters", [4, 8])
def test_clustering_bounds_unique_values(tiny_model, digits, clusters):
    r, tfl = export(tiny_model, digits, [{"technique": "cluster", "clusters": clusters, **FAST}])
    assert max_unique_values(tfl.kernel_tensors()) <= clusters
    assert r.facts["clustered_layers"] == ["conv1", "conv2", "fc1", "logits"]


def test_cqat_keeps_clusters_per_channel_in_int8(tiny_model, digits):
    _, tfl = export(tiny_model, digits, [{"technique": "cluster", "clusters": 6, **FAST},
                                         {"technique": "qat", "preserve": "clusters", **FAST}], "int8")
    ks = tfl.kernel_tensors()
    assert {k.dtype.name for k in ks.values()} == {"int8"}
    assert max_unique_per_channel(ks) <= 6


def test_pqat_keeps_sparsity_in_int8(tiny_model, digits):
    r, tfl = export(tiny_model, digits, [{"technique": "prune", "sparsity": 0.6, "epochs": 2},
                                         {"technique": "qat", "preserve": "sparsity", **FAST}], "int8")
    assert sparsity(tfl.kernel_tensors()) >= 0.58
    assert {"0_prune_loss", "1_qat_loss"} <= set(r.history)


def test_qat_exports_full_integer(tiny_model, digits):
    _, tfl = export(tiny_model, digits, [{"technique": "qat", **FAST}], "int8")
    assert {k.dtype.name for k in tfl.kernel_tensors().values()} == {"int8"}
    assert accuracy(tfl.predict(digits.x_test), digits.y_test) > 0.5


def test_distilled_student_and_label_only_twin_export(tiny_model, digits):
    from workbench.convert import convert

    r, tfl = export(tiny_model, digits, [{"technique": "distill", "student_args": {"width": 0.25, "dense": 16},
                                          "epochs": 2}])
    assert r.params_after <= 0.5 * r.params_before
    assert r.params_ratio is not None and r.params_ratio <= 0.5
    plain = TfliteModel(convert(r.companions["label_only"], "float32"))
    for m in (tfl, plain):
        assert 0.1 < accuracy(m.predict(digits.x_test), digits.y_test) <= 1


def test_lowrank_parameter_count(tiny_model, digits):
    r, tfl = export(tiny_model, digits, [{"technique": "lowrank", "rank": 4, **FAST, "layers": {"names": ["^fc1$"]}}])
    rep = r.facts["lowrank"]["fc1"]
    assert rep["rank"] == 4
    assert rep["params"] == 4 * (rep["in"] + rep["out"]) + rep["out"]  # + bias
    assert r.params_after == r.params_before - rep["in"] * rep["out"] + 4 * (rep["in"] + rep["out"])
    shapes = {k.shape for k in tfl.kernel_tensors().values() if k.ndim == 2}  # TFLite FC kernels are [out, in]
    assert {(4, rep["in"]), (rep["out"], 4)} <= shapes
    assert (rep["out"], rep["in"]) not in shapes


def test_lowrank_rank_by_energy():
    from workbench.compress.lowrank import choose_rank

    s = np.array([10.0, 5.0, 1.0, 0.1])
    assert choose_rank(s, None, 0.79) == 1  # 100/126.01 = 0.794
    assert choose_rank(s, None, 0.99) == 2
    assert choose_rank(s, None, 1.0) == 4
    assert choose_rank(s, 9, None) == 4


def test_layer_selection_matching_nothing_is_a_spec_error(tiny_model, digits):
    from workbench.errors import SpecError

    with pytest.raises(SpecError, match="match no supported layer"):
        export(tiny_model, digits, [{"technique": "prune", "layers": {"names": ["nope"]}, **FAST}])


# --- through workbench.pipeline: the variant cells around the techniques ---


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tech")
    write_experiment(root, epochs=4)
    return root


def run(root, steps, quantization="float32"):
    """prepare -> compress -> convert -> evaluate one variant in-process (no MLflow)."""
    from workbench import pipeline

    variant = json.dumps({"name": "t", "steps": steps, "quantization": quantization})
    ctx = pipeline.prepare_variant(root / "experiments" / "tiny.yaml", variant, work_dir=root / ".wb", root=root,
                                   track=False)
    compressed = pipeline.compress_variant(ctx)
    exported = pipeline.convert_variant(ctx, compressed)
    return ctx, compressed, exported, pipeline.evaluate_variant(ctx, exported, compressed)


def test_pipeline_compares_distilled_and_label_only_students(root):
    _, compressed, _, quality = run(root, [{"technique": "distill", "student_args": {"width": 0.25, "dense": 16},
                                            "epochs": 2}])
    q = quality.metrics
    assert q["params_after"] == compressed.params_after <= 0.5 * q["params_before"]
    assert q["params_ratio"] == pytest.approx(compressed.params_ratio)
    assert 0 <= q["label_only_accuracy"] <= 1
    assert q["distill_gain_pts"] == pytest.approx((q["accuracy"] - q["label_only_accuracy"]) * 100)
    assert any("label-only student" in n for n in quality.notes)


def test_pay_off_check_flags_a_slower_variant(root):
    """int16x8 runs on builtin kernels here (no XNNPACK): slower than float, and the run says so."""
    from workbench import pipeline

    ctx, _, exported, _ = run(root, [], "int16x8")
    prof = pipeline.profile_variant(ctx, exported)
    assert prof.result.ops.fallback and not prof.result.ops.delegated
    assert prof.paid_off == "false" and prof.speedup_vs_float < 1
    assert any("builtin kernels" in n for n in prof.notes) and any("not faster" in n for n in prof.notes)


def test_profile_axes_are_measured_and_logged(tmp_path):
    """An experiment's `profiles:` runs every variant under each extra runtime setting too."""
    from workbench.pipeline import run_variant
    from workbench.tracking import Tracker

    write_experiment(tmp_path, name="axes", epochs=2,
                     extra="profiles: [{name: t2, threads: 2}, {name: ref, kernels: reference}]\n")
    summary = run_variant(tmp_path / "experiments" / "axes.yaml", "int8", work_dir=tmp_path / ".wb", root=tmp_path)
    run = Tracker(root=tmp_path).get_run(summary["run_id"])
    assert {"latency_ms_p50.t2", "latency_ms_p50.ref", "memory_mb_peak.t2"} <= set(run.metrics)
    assert run.params["t2.profile.threads"] == "2" and run.params["ref.profile.kernels"] == "reference"
    assert run.metrics["latency_ms_p50.ref"] > run.metrics["latency_ms_p50"]  # reference kernels are slower
