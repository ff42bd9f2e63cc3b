"""Issue 17, the model side (no TensorFlow): a binary classifier's single sigmoid output scored as p > 0.5 against
0/1 labels; training on a regression or multi-output task with the task's loss, which enters the ids only where it
trains; every output of a runtime paired with the .tflite's; a diverged baseline stops the sweep at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tests.unit.test_fit import _npz, _refusal, sequential
from workbench.analysis.scores import top_k
from workbench.errors import DataError
from workbench.fit import check_fit
from workbench.model_config import signature_of
from workbench.run.status import Outcome, StopReason, VariantStatus
from workbench.runtime_model import pair_outputs
from workbench.spec import ExperimentSpec, baseline_id, variant_id
from workbench.spec.ids import task_loss
from workbench.tflite_model import accuracy, agreement, predicted_classes

BASE = {"name": "t", "baseline": {"model": "m.keras", "dataset": "d:f", "training": {"epochs": 0}},
        "variants": [{"name": "int8", "quantization": "int8"}]}
TWO = {"kind": "multi_output", "outputs": {"value": "mae", "kind": "top1"}}


def _spec(training: dict[str, object] | None = None, **extra: object) -> ExperimentSpec:
    baseline = {**BASE["baseline"], "training": training or {"epochs": 0}}
    return ExperimentSpec.model_validate({**BASE, "baseline": baseline, **extra})


# --- a single sigmoid output -------------------------------------------------------------------------------------

def test_one_score_per_sample_is_the_probability_of_class_1():
    p = np.array([[0.9], [0.5], [0.2], [0.51]], np.float32)
    assert predicted_classes(p).tolist() == [1, 0, 0, 1]  # above 0.5, as Keras's binary accuracy
    assert accuracy(p, np.array([1, 0, 1, 1])) == 0.75 == top_k(np.array([1, 0, 1, 1]), p)
    assert agreement(p, np.array([1, 1, 0, 1])) == 0.75
    assert top_k(np.array([1, 0, 1, 1]), p, 5) == 1.0  # both classes are in any top-2
    assert predicted_classes(np.array([[0.1, 0.9], [0.8, 0.2]])).tolist() == [1, 0]  # several: the argmax as before


def test_a_one_unit_output_takes_0_1_labels_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    binary = {"y_train": np.arange(30) % 2, "y_test": np.arange(10) % 2}
    check_fit("m.keras", signature_of(sequential([8, 8, 1], 1)), _npz(tmp_path, **binary))  # fits: no error
    three = _npz(tmp_path, y_train=np.arange(30) % 3, y_test=np.arange(10) % 2)
    assert _refusal(sequential([8, 8, 1], 1), three) == (
        "model 'm.keras' and dataset 'd.npz': y_train has the label 2 at sample 2 but output 'dense' has 1 unit (a "
        "binary classifier: labels 0 and 1, class 1 when the output is above 0.5); fix the label or give a model "
        "with one output per class")
    hot = _npz(tmp_path, y_train=np.eye(3)[np.arange(30) % 3], y_test=np.eye(3)[np.arange(10) % 3])
    assert "one-hot with 3 classes but output 'dense' has 1 unit" in _refusal(sequential([8, 8, 1], 1), hot)
    two_hot = _npz(tmp_path, y_train=np.eye(2)[np.arange(30) % 2], y_test=np.eye(2)[rng.integers(0, 2, 10)])
    check_fit("m.keras", signature_of(sequential([8, 8, 1], 1)), two_hot)  # one-hot over two classes: 0/1


# --- training with the task's loss -------------------------------------------------------------------------------

def test_each_task_trains_on_its_own_loss():
    assert _spec().task.losses() == {"": "crossentropy"}
    assert _spec(task={"kind": "regression"}).task.losses() == {"": "mae"}
    assert _spec(task={"kind": "regression", "metric": "rmse"}).task.losses() == {"": "mse"}
    assert _spec(task={"kind": "regression", "metric": {"function": "m:f", "name": "f", "better": "max"}}
                 ).task.losses() == {"": "mse"}
    assert _spec(task=TWO).task.losses() == {"value": "mae", "kind": "crossentropy"}
    trained = _spec({"epochs": 3}, task={"kind": "regression"})  # accepted now: fine-tuned on MAE
    assert trained.resolved_training().loss == {"": "mae"} and trained.baseline.training.loss is None
    own = _spec({"epochs": 3, "loss": "mse"}, task={"kind": "regression"})
    assert own.resolved_training().loss == "mse"  # the experiment's own loss wins
    one = _spec({"epochs": 1, "loss": {"kind": "crossentropy", "value": "mse"}}, task=TWO)
    assert one.resolved_training().loss == {"value": "mse", "kind": "crossentropy"}
    assert _spec({"epochs": 1, "loss": {"value": "mse"}}, task=TWO).resolved_training().loss == one.resolved_training().loss
    steps = _spec(task=TWO, variants=[{"name": "p", "steps": [{"technique": "prune", "epochs": 1}]},
                                      {"name": "q", "quantization": "int8", "steps": [{"technique": "qat"}]}])
    assert [v.name for v in steps.variants] == ["p", "q"]


def test_a_zoo_model_has_one_output_for_a_multi_output_task():
    with pytest.raises(ValidationError, match="zoo model 'digits_cnn' has one output; give a model file"):
        ExperimentSpec.model_validate({**BASE, "baseline": {"model": "digits_cnn", "dataset": "d:f"}, "task": TWO})


@pytest.mark.parametrize("loss, task, message", [
    ("crossentropy", {"kind": "regression"}, "crossentropy does not fit the task, scored on values; use mae or mse"),
    ("mae", None, "mae does not fit the task, scored on class labels; use crossentropy"),
    ({"value": "mae"}, {"kind": "regression"}, "give one loss"),
    ({"age": "mae"}, TWO, "'age' is not an output of the task (value, kind)"),
    ({"kind": "mse"}, TWO, "mse does not fit output 'kind', scored on class labels"),
])
def test_a_loss_that_does_not_fit_the_task_is_refused(loss, task, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _spec({"epochs": 1, "loss": loss}, **({"task": task} if task else {}))


def test_the_task_s_loss_enters_ids_only_where_it_trains():
    fp = "f" * 64
    untrained = _spec(task={"kind": "regression"})
    trained_mae = _spec({"epochs": 2}, task={"kind": "regression"})
    trained_rmse = _spec({"epochs": 2}, task={"kind": "regression", "metric": "rmse"})
    assert task_loss(untrained) == "" and task_loss(_spec({"epochs": 2})) == ""  # classification: as always
    assert baseline_id(untrained.baseline, fp) == baseline_id(untrained.baseline, fp, loss=task_loss(untrained))
    ids = {baseline_id(s.baseline, fp, loss=task_loss(s)) for s in (trained_mae, trained_rmse)}
    assert len(ids) == 2  # MAE and MSE train different baselines: never one cache for both
    pruned = _spec(task={"kind": "regression"}, variants=[{"name": "p", "steps": [{"technique": "prune"}]}])
    v = pruned.variants[0]
    assert task_loss(pruned, v) == '{"":"mae"}' and task_loss(pruned) == ""  # the variant trains, the baseline not
    assert variant_id(v, pruned.baseline, fp, pruned.target, loss=task_loss(pruned, v)) != variant_id(
        v, pruned.baseline, fp, pruned.target)


# --- every output of a runtime, paired with the .tflite's -------------------------------------------------------

def test_outputs_pair_by_tensor_name_else_by_order():
    tflite = ["Identity", "Identity_1"]
    assert pair_outputs([{"x:0", "Identity_1"}, {"Identity"}], tflite) == [1, 0]  # by name, whatever the order
    assert pair_outputs([{"a"}, {"b"}], tflite) == [0, 1]  # no names in common: the file's order
    assert pair_outputs([{"only"}], ["Identity"]) == [0]
    with pytest.raises(ValueError, match="do not carry the .tflite's tensor names"):
        pair_outputs([{"a"}, {"b"}], tflite, ordered=False)  # a runtime that keeps no order is never guessed
    with pytest.raises(ValueError, match="it gives 1 outputs, the .tflite 2"):
        pair_outputs([{"Identity"}], tflite)


# --- a diverged baseline stops the sweep ------------------------------------------------------------------------

def test_a_refused_baseline_stops_the_sweep_after_the_variant_that_found_it(tmp_path: Path) -> None:
    from workbench.baseline import refusal
    from workbench.run.task import clear_stop, stop_on_baseline, stop_reason

    bid = "ab" * 32
    failed = Outcome("float32", "v1", VariantStatus.FAILED, "error in cell 2: DataError: ...", "run1", 3.0)
    clear_stop()
    try:
        assert refusal(tmp_path, bid) is None
        stop_on_baseline(failed, tmp_path, bid)  # no refusal recorded: an ordinary failure, the sweep goes on
        assert stop_reason() is None
        (tmp_path / "baselines").mkdir()
        (tmp_path / "baselines" / f".refused-{bid[:16]}.txt").write_text("model file m.keras: weight w holds NaN\n")
        stop_on_baseline(Outcome("int8", "v2", VariantStatus.FINISHED, "", "run2", 3.0), tmp_path, bid)
        assert stop_reason() is None  # a finished variant never stops it
        with pytest.raises(DataError, match=r"^model file m.keras: weight w holds NaN$"):
            stop_on_baseline(failed, tmp_path, bid)
        stop = stop_reason()
        assert stop is not None and stop.reason == StopReason.BASELINE and stop.text.endswith("holds NaN")
    finally:
        clear_stop()
