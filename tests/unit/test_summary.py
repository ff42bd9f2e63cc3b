"""The manager's paragraph and the units a person reads (pure functions: rows and a spec in, text out)."""

from __future__ import annotations

import pytest

from workbench.spec import ExperimentSpec
from workbench.views.summary import experiment_description, fmt_bytes, fmt_ms, plain, recommendation


@pytest.mark.parametrize("ms,text", [(0.00203, "2.03 µs"), (0.0412, "41.2 µs"), (0.412, "412 µs"),
                                     (1.2345, "1.23 ms"), (41.26, "41.3 ms"), (412.0, "412 ms"), (2100.0, "2.10 s"),
                                     (float("nan"), "-")])
def test_latency_reads_in_the_right_unit(ms, text):
    assert fmt_ms(ms) == text


@pytest.mark.parametrize("size,text", [(10854.4, "10.6 KB"), (1024 * 1023.9, "1023.9 KB"),
                                       (14_050_000.0, "13.40 MB")])
def test_size_reads_in_kb_or_mb(size, text):
    assert fmt_bytes(size) == text


def _spec(**budgets):
    return ExperimentSpec.model_validate({"name": "e", "baseline": {"model": "digits_cnn", "dataset": "digits"},
                                          "budgets": budgets, "variants": [{"name": "int8", "quantization": "int8"}]})


ROWS = [
    {"variant": "float32", "technique": "ptq:float32", "accuracy": 0.9528, "accuracy_delta": 0.0,
     "size_bytes": 25395.0, "latency_ms_p50": 0.00317, "compression_ratio": 1.0, "speedup_vs_float": 1.0},
    {"variant": "int8", "technique": "ptq:int8", "accuracy": 0.9500, "accuracy_delta": -0.28,
     "size_bytes": 10854.0, "latency_ms_p50": 0.00203, "compression_ratio": 2.34, "speedup_vs_float": 1.56},
]


def test_the_paragraph_answers_which_variant_and_at_what_cost():
    spec = _spec(max_accuracy_drop=1.0, max_size_kb=20)
    text = recommendation(spec, ROWS, ROWS[1], [], "#/experiments/1/runs/r/artifacts/dashboard.html",
                          "`digits` (fingerprint abc)")
    assert text.startswith("**Ship `int8`**")
    assert "0.28 pts below float32" in text
    assert "10.6 KB instead of 24.8 KB (2.3× smaller)" in text  # float's size = size × compression ratio
    assert "p50 latency 2.03 µs instead of 3.17 µs (1.56× faster)" in text
    assert "accuracy drop ≤ 1 pts, size ≤ 20 KB" in text
    assert "1 of the 2 measured variants meet them" in text  # float32 (24.8 KB) breaks the size budget
    assert "[dashboard](#/experiments/1/runs/r/artifacts/dashboard.html)" in text
    terminal = plain(text)
    assert terminal.startswith("Ship int8 (ptq:int8)") and "](" not in terminal and "**" not in terminal


def test_without_a_fit_the_paragraph_says_so_and_why():
    text = recommendation(_spec(max_size_kb=5), ROWS, None, ["int8: exceeds max_size_kb 5 (size 10.6)"])
    assert text.startswith("**No variant meets every budget** (size ≤ 5 KB)")
    assert "int8: exceeds max_size_kb 5" in text and "Ship" not in text


def test_experiment_description_says_how_to_read_it():
    text = experiment_description(_spec(max_latency_ms=0.5), 13)
    assert "**13 variants**" in text and "p50 latency ≤ 500 µs" in text
    assert "How to read it" in text and "(ad-hoc)" in text and "`recommended`" in text


def test_a_store_without_a_registry_still_gets_the_answer_on_the_run():
    from types import SimpleNamespace

    from workbench.run.settle import _publish

    calls: dict[str, object] = {}

    class NoRegistry:
        def promote(self, *args):
            raise RuntimeError("model registry not supported by this store")

        def get_run(self, run_id):
            return SimpleNamespace(run_id=run_id)

        def set_tags(self, run_id, tags):
            calls["note"] = tags["mlflow.note.content"]

        def rename_run(self, run_id, name):
            calls["name"] = name

    text = _publish(NoRegistry(), "p", _spec(), "s1", {**ROWS[1], "run_id": "r", "variant_id": "v"}, "Ship int8.")
    assert text == calls["note"]
    assert text.startswith("Ship int8. The model registry was not updated (RuntimeError: model registry not supported")
    assert calls["name"] == "ship int8 · sweep s1"


def test_the_paragraph_quotes_float_from_the_same_rounds_and_says_why_a_tie_went_one_way():
    rec = {**ROWS[1], "latency_ms_p50": 0.003746, "float_latency_ms_p50": 0.0072, "speedup_vs_float": 1.92,
           "speedup_vs_float_ci_low": 1.80, "speedup_vs_float_ci_high": 2.05, "accuracy_ci_low": 0.9226,
           "accuracy_ci_high": 0.9688, "test_samples": 360.0, "accuracy_delta_p": 1.0, "accuracy_lost": 1.0,
           "accuracy_gained": 0.0,
           "tied_with": [{"variant": "int8_io", "accuracy": 0.95, "latency_ms_p50": 0.0037, "size_bytes": 10800.0}],
           "tie_reason": "float I/O needs no integration step"}
    text = recommendation(_spec(), ROWS, rec, [])
    assert "p50 latency 3.75 µs vs float32 7.20 µs measured side by side (1.92× faster, 95% interval 1.80-2.05×)" in text
    assert "accuracy 95.00% (95% interval 92.3-96.9%, 360 test samples)" in text
    assert "no measurable difference: 1 lost, 0 gained against float32, McNemar p = 1.00" in text
    assert ("`int8` and `int8_io`: no measurable difference (p50 3.75 µs vs 3.70 µs; accuracy 95.00% vs 95.00%: "
            "within noise); `int8` chosen: float I/O needs no integration step.") in text


def test_one_test_sample_is_not_a_confident_100_percent():
    rec = {**ROWS[1], "accuracy": 1.0, "accuracy_ci_low": 0.20655, "accuracy_ci_high": 1.0, "test_samples": 1.0}
    assert "accuracy 100.00% (95% interval 20.7-100.0%, 1 test sample)" in recommendation(_spec(), ROWS, rec, [])


@pytest.mark.parametrize("training,words", [({}, "your model, not retrained"),
                                            ({"training": {"epochs": 3}}, "retrained 3 epochs from your weights")])
def test_the_paragraph_says_whether_a_user_model_was_retrained(training, words):
    spec = ExperimentSpec.model_validate({"name": "e", "baseline": {"model": "m.keras", "dataset": "digits", **training},
                                          "variants": [{"name": "int8", "quantization": "int8"}]})
    assert f"Float reference: {words}." in recommendation(spec, ROWS, ROWS[1], [])
    assert "Float reference" not in recommendation(_spec(), ROWS, ROWS[1], [])  # a zoo model: trained, as always


def test_a_baseline_at_chance_is_the_first_thing_the_paragraph_says():
    import numpy as np

    from workbench.analysis.significance import chance_note

    note = chance_note(0.094, np.repeat(np.arange(10), 36))
    rows = [{**r, "notes": f"other note\n{note}"} for r in ROWS]
    text = recommendation(_spec(), rows, rows[1], [])
    assert text.startswith("**Caution**: The float baseline scores 9.4% on 360 test samples")
    assert "**Ship `int8`**" in text
    assert "Caution" not in recommendation(_spec(), ROWS, ROWS[1], [])  # a baseline that learned: no caution
