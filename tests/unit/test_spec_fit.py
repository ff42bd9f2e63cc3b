"""An experiment against its data's shape (issue 20): pruning schedules within their fine-tuning, and the
baseline's memory estimated from its config and the input shape, refused over ``max_model_mb``. Pure
arithmetic, no TensorFlow: the zoo counts are checked against built models in tests/integration."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.spec import parse_experiment
from workbench.spec.fit import schedule_problem, size_problem, zoo_size


def _spec(**extra: Any) -> Any:
    data = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
            "variants": [{"name": "a", "quantization": "int8"}], **extra}
    return parse_experiment(data, "e.yaml")


def test_the_digits_cnn_count_is_its_layers() -> None:
    # conv1 9*1*16+16, conv2 9*16*32+32, fc1 (4*4*32)*128+128, logits 128*10+10: the ~72k the zoo lists
    assert zoo_size("digits_cnn", {}, (8, 8, 1), 10)[0] == 160 + 4640 + 65_664 + 1290
    assert zoo_size("digits_cnn", {}, (512, 512, 3), 10)[0] > 268_000_000  # the dense layer of a 512x512 input


def test_mobilenet_scales_with_alpha_and_the_input() -> None:
    full, half = zoo_size("mobilenet_v2", {}, (224, 224, 3), 1000), zoo_size("mobilenet_v2", {"alpha": 0.5},
                                                                             (224, 224, 3), 1000)
    assert full[0] == 3_538_984 and abs(half[0] - 1_987_224) / 1_987_224 < 0.1  # the built models' counts
    assert zoo_size("mobilenet_v2", {}, (448, 448, 3), 1000)[1] == 4 * full[1]


def test_a_model_over_max_model_mb_is_refused_and_the_limit_can_be_raised() -> None:
    spec = _spec()
    msg = size_problem(spec, spec.resolved_variants(), (512, 512, 3), 10)
    assert msg.startswith("max_model_mb: zoo model digits_cnn at input 512x512x3 has ~268.4 M parameters")
    assert size_problem(spec, spec.resolved_variants(), (8, 8, 1), 10) == ""
    raised = _spec(max_model_mb=20_000)
    assert size_problem(raised, raised.resolved_variants(), (512, 512, 3), 10) == ""


def test_inference_only_counts_weights_and_one_sample() -> None:
    spec = _spec(baseline={"model": "mobilenet_v2", "dataset": "synthetic", "training": {"epochs": 0}})
    assert size_problem(spec, spec.resolved_variants(), (224, 224, 3), 10) == ""  # ~100 MB
    trained = _spec(baseline={"model": "mobilenet_v2", "dataset": "synthetic"})
    assert "for training at batch 32" in size_problem(trained, trained.resolved_variants(), (224, 224, 3), 10)


def test_a_model_file_counts_its_weight_bytes() -> None:
    spec = _spec(baseline={"model": "m.keras", "dataset": "digits", "training": {"epochs": 1}})  # retrained: x4
    assert "model file m.keras has ~500.0 M parameters and ~0.0 M activation" in size_problem(
        spec, (), (8, 8, 1), 10, 2_000_000_000, 10)  # its activations known from its config
    assert "model file m.keras (weights only: its config does not give every layer's shape) has ~500.0 M" in \
        size_problem(spec, (), (8, 8, 1), 10, 2_000_000_000)
    assert size_problem(spec, (), (8, 8, 1), 10, None) == ""


@pytest.mark.parametrize("step, words", [
    ({"begin_step": 10**9}, "begin_step: 1,000,000,000 is past the last step, so nothing is pruned"),
    ({"end_step": 1000}, "end_step: 1,000 is past the last step, so sparsity 0.8 is never reached"),
])
def test_a_pruning_schedule_outside_its_fine_tuning_is_refused(step: dict[str, Any], words: str) -> None:
    spec = _spec(variants=[{"name": "p", "steps": [{"technique": "prune", "sparsity": 0.8, **step}]}])
    msg = schedule_problem(spec.resolved_variants(), 1437, 32)
    assert words in msg and "its fine-tuning is 90 steps (2 epoch(s) x 45 batches of 32 from 1,437 samples)" in msg
    assert schedule_problem(spec.resolved_variants(), 10**11, 32) == ""  # the same schedule on more data fits


def test_validate_refuses_a_schedule_past_its_fine_tuning(tmp_path: Any, monkeypatch: Any) -> None:
    """`validate` loads the dataset for the data-dependent checks (here the built-in digits)."""
    from click.testing import CliRunner

    from workbench.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.yaml").write_text("name: x\nbaseline: {model: digits_cnn, dataset: digits}\nvariants: [{name: p, "
                                    "steps: [{technique: prune, begin_step: 1000000000}]}]\n")
    out = CliRunner().invoke(main, ["validate", "e.yaml"])
    assert out.exit_code == 2 and "begin_step: 1,000,000,000 is past the last step" in out.output
