"""Each technique as a pure function on a tiny model and tiny data: its real effect on the Keras model,
its record, and that the model passed in is left exactly as it was (no spec file, cache or temp dir)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.spec import TrainingSpec
from workbench.spec.steps import (
    ClusterSpec,
    DistillSpec,
    LayerSelection,
    LowRankSpec,
    PruneSpec,
    QATSpec,
    StructuredPruneSpec,
)

pytestmark = pytest.mark.tf

TRAINING = TrainingSpec(batch_size=64, seed=0)
FAST = {"epochs": 1, "learning_rate": 0.001}
ALL_WEIGHTED = ["conv1", "conv2", "fc1", "logits"]


class Untouched:
    """A snapshot of a model's layers and weights, to assert later that nothing changed them."""

    def __init__(self, model):
        self.model = model
        self.layers = [id(layer) for layer in model.layers]
        self.weights = [w.copy() for w in model.get_weights()]
        self.variables = {id(v) for v in model.weights}

    def check(self, result_model=None):
        assert [id(layer) for layer in self.model.layers] == self.layers
        now = self.model.get_weights()
        assert len(now) == len(self.weights)
        assert all(np.array_equal(a, b) for a, b in zip(now, self.weights, strict=True))
        if result_model is not None:  # the result owns its variables: training it cannot reach the input
            assert result_model is not self.model
            assert self.variables.isdisjoint(id(v) for v in result_model.weights)


def kernels(model):
    """Keras kernels of the Conv2D / Dense layers, by layer name (searching nested blocks too)."""
    out = {}
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out.update(kernels(layer))
        elif type(layer).__name__ in ("Conv2D", "Dense"):
            out[layer.name] = layer.kernel.numpy()
    return out


def layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


def test_chain_result_merges_records_in_order():
    """Pure merge (no training): prefixed histories, later facts win, notes and companions kept."""
    from workbench.compress.result import ChainResult, StepResult

    a = StepResult("m1", {"loss": [1.0]}, {"pruned_layers": ["fc1"], "k": 1}, ("first",))
    b = StepResult("m2", {"loss": [0.5], "val_accuracy": [0.9]}, {"k": 2, "teacher_params": 10, "student_params": 4},
                   ("second",), {"label_only": "plain"})
    r = ChainResult.from_steps("m0", [("prune", a), ("distill", b)], params_before=10, params_after=4)
    assert r.model == "m2"
    assert r.history == {"0_prune_loss": [1.0], "1_distill_loss": [0.5], "1_distill_val_accuracy": [0.9]}
    assert r.facts == {"pruned_layers": ["fc1"], "k": 2, "teacher_params": 10, "student_params": 4}
    assert r.notes == ("first", "second")
    assert r.companions == {"label_only": "plain"}
    assert r.params_ratio == pytest.approx(0.4)
    empty = ChainResult.from_steps("m0", [], 7, 7)
    assert empty.model == "m0" and not empty.history and not empty.facts and empty.params_ratio is None


def test_registry_covers_every_spec_technique():
    from workbench.compress import TECHNIQUES
    from workbench.spec.steps import TECHNIQUES as NAMES

    assert set(TECHNIQUES) == set(NAMES)
    assert all(callable(f) for f in TECHNIQUES.values())


def test_prune_zeroes_the_selected_kernels(tiny_model, digits):
    from workbench.compress.prune import apply_prune

    before = Untouched(tiny_model)
    r = apply_prune(tiny_model, PruneSpec(sparsity=0.6, **FAST), digits, TRAINING)
    before.check(r.model)
    assert r.facts == {"pruned_layers": ALL_WEIGHTED}
    assert not any(t.startswith("PruneLowMagnitude") for t in layer_types(r.model))  # wrappers stripped
    for name, k in kernels(r.model).items():
        assert np.mean(k == 0) >= 0.6 - 0.02, name
    assert set(r.history) >= {"loss", "val_accuracy"} and len(r.history["loss"]) == 1
    assert not r.notes and not r.companions


def test_prune_by_name_touches_only_those_layers(tiny_model, digits):
    from workbench.compress.prune import apply_prune

    r = apply_prune(tiny_model, PruneSpec(sparsity=0.7, schedule="constant", layers=LayerSelection(names=("^fc",)),
                                          **FAST), digits, TRAINING)
    assert r.facts["pruned_layers"] == ["fc1"]
    ks = kernels(r.model)
    assert np.mean(ks["fc1"] == 0) >= 0.68
    assert all(np.mean(ks[n] == 0) < 0.1 for n in ("conv1", "conv2", "logits"))


def test_two_of_four_along_input_channels(tiny_model, digits):
    from workbench.compress.prune import apply_prune_structured

    before = Untouched(tiny_model)
    r = apply_prune_structured(tiny_model, StructuredPruneSpec(**FAST), digits, TRAINING)
    before.check(r.model)
    checked = 0
    for k in kernels(r.model).values():
        rows = np.moveaxis(k, -2, -1).reshape(-1, k.shape[-2])  # Keras kernels: [..., in, out]
        usable = rows.shape[1] // 4 * 4
        if usable:
            groups = rows[:, :usable].reshape(rows.shape[0], -1, 4)
            assert ((groups == 0).sum(axis=2) >= 2).all()
            checked += 1
    assert checked >= 3  # conv1 has one input channel: no complete block


def test_cluster_bounds_unique_values_per_kernel(tiny_model, digits):
    from workbench.compress.cluster import apply_cluster

    before = Untouched(tiny_model)
    r = apply_cluster(tiny_model, ClusterSpec(clusters=4, **FAST), digits, TRAINING)
    before.check(r.model)
    assert r.facts == {"clustered_layers": ALL_WEIGHTED}
    assert not any(t.startswith("Cluster") for t in layer_types(r.model))
    assert all(np.unique(k).size <= 4 for k in kernels(r.model).values())


def test_qat_inserts_fake_quant(tiny_model, digits):
    from workbench.compress.quantize import apply_qat

    before = Untouched(tiny_model)
    r = apply_qat(tiny_model, QATSpec(**FAST), digits, TRAINING)
    before.check(r.model)
    assert {"QuantizeLayer", "QuantizeWrapperV2"} <= layer_types(r.model)
    ranges = [v for v in r.model.weights if "_min" in v.name or "_max" in v.name]
    assert ranges  # trained quantizer ranges
    assert not r.facts and not r.notes


def test_distill_trains_a_smaller_student_and_a_label_only_twin(tiny_model, digits):
    from workbench.compress.distill import apply_distill
    from workbench.models import count_params

    before = Untouched(tiny_model)
    step = DistillSpec(student_args={"width": 0.25, "dense": 16}, epochs=1)
    r = apply_distill(tiny_model, step, digits, TRAINING)
    before.check(r.model)
    assert r.facts["teacher_params"] == tiny_model.count_params()
    assert r.facts["student_params"] == r.model.count_params() <= 0.5 * r.facts["teacher_params"]
    plain = r.companions["label_only"]
    assert plain is not r.model and count_params(plain) == count_params(r.model)
    assert set(r.history) >= {"loss", "val_accuracy", "label_only_loss", "label_only_val_accuracy"}
    no_twin = apply_distill(tiny_model, step.model_copy(update={"compare_label_only": False}), digits, TRAINING)
    assert not no_twin.companions


def test_lowrank_factorizes_into_rank_times_in_plus_out(tiny_model, digits):
    from workbench.compress.lowrank import apply_lowrank
    from workbench.models import count_params

    before = Untouched(tiny_model)
    r = apply_lowrank(tiny_model, LowRankSpec(rank=4, layers=LayerSelection(names=("^fc1$",)), **FAST), digits,
                      TRAINING)
    before.check(r.model)
    rep = r.facts["lowrank"]["fc1"]
    n_in, n_out = tiny_model.get_layer("fc1").kernel.shape
    assert rep == {"in": n_in, "out": n_out, "rank": 4, "params": 4 * (n_in + n_out) + n_out}
    assert r.model.get_layer("fc1_lowrank").count_params() == rep["params"]
    assert count_params(r.model) == count_params(tiny_model) - n_in * n_out + 4 * (n_in + n_out)
    assert not r.notes


def test_lowrank_keeps_a_layer_it_cannot_shrink_and_says_so(tiny_model, digits):
    from workbench.compress.lowrank import apply_lowrank

    r = apply_lowrank(tiny_model, LowRankSpec(rank=10, layers=LayerSelection(names=("^logits$",)), epochs=0),
                      digits, TRAINING)
    assert r.facts == {"lowrank": {}}
    assert any("logits kept dense" in n for n in r.notes)
    assert any("no layer was factorized" in n for n in r.notes)
    assert not r.history  # 0 epochs: no fine-tuning


def test_selection_matching_nothing_is_a_spec_error(tiny_model, digits):
    from workbench.compress.prune import apply_prune
    from workbench.errors import SpecError

    before = Untouched(tiny_model)
    with pytest.raises(SpecError, match="match no supported layer.*fc1 \\(Dense\\)"):
        apply_prune(tiny_model, PruneSpec(layers=LayerSelection(names=("nope",)), **FAST), digits, TRAINING)
    before.check()


def test_apply_steps_chains_seeds_and_merges(tiny_model, digits):
    from workbench.compress import apply_steps
    from workbench.models import count_params

    before = Untouched(tiny_model)
    steps = (PruneSpec(sparsity=0.5, schedule="constant", **FAST),
             ClusterSpec(clusters=8, preserve_sparsity=True, **FAST))
    r = apply_steps(tiny_model, steps, digits, TRAINING)
    before.check(r.model)
    assert {"0_prune_loss", "0_prune_val_accuracy", "1_cluster_loss"} <= set(r.history)
    assert r.facts == {"pruned_layers": ALL_WEIGHTED, "clustered_layers": ALL_WEIGHTED}
    assert r.params_before == r.params_after == count_params(tiny_model)
    for k in kernels(r.model).values():
        assert np.mean(k == 0) >= 0.48 and np.unique(k).size <= 8
    again = apply_steps(tiny_model, steps, digits, TRAINING)  # seeded: same spec, same weights
    assert all(np.array_equal(a, b) for a, b in zip(r.model.get_weights(), again.model.get_weights(), strict=True))
    none = apply_steps(tiny_model, (), digits, TRAINING)
    assert none.model is tiny_model and not none.history
