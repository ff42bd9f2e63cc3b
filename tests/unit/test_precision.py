"""The per-layer precision search's recipes and constraints, without TensorFlow: a per-layer assignment as a
LiteRT Quantizer recipe (and the file it makes), the groups and seeds the search starts from, the budgets as
constraints, and a recipe written into an experiment file as a ``mixed`` variant."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.unit.tiny_tflite import dense_tflite
from workbench.analysis.pareto import budget_violations
from workbench.analysis.precision import (
    OBJECTIVES,
    REST,
    Group,
    assignment,
    budget_excess,
    fit_precision,
    make_groups,
    objective_values,
    seed_label,
    seeds,
    uniform,
)
from workbench.catalog.quantization import (
    LAYER_PRECISIONS,
    QUANTIZER_MODES,
    layer_choices,
    recipe_hash,
    recipe_needs_calibration,
)
from workbench.convert.quantizer import layer_recipe, quantize_recipe, quantize_tflite, weighted_layers
from workbench.errors import ModelFileError, SpecError
from workbench.spec import BudgetSpec, VariantSpec, load_experiment, parse_experiment

BASE = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"}}
LAYERS = {"conv1": "CONV_2D", "dw": "DEPTHWISE_CONV_2D", "conv2": "CONV_2D", "fc": "FULLY_CONNECTED"}


def test_a_layer_assignment_is_one_rule_per_precision_and_operator_scoped_to_its_layers():
    rules = layer_recipe({"conv1": "int4_weights", "conv2": "int4_weights", "dw": "int8_weights", "fc": "float32"},
                         LAYERS)
    assert [(r["operation"], r["regex"], r["op_config"]["weight_tensor_config"]["num_bits"]) for r in rules] == [
        ("DEPTHWISE_CONV_2D", "^(dw);$", 8), ("CONV_2D", "^(conv1|conv2);$", 4)]  # fc float32: no rule
    # the same assignment in another order is the same recipe (and hash): a found recipe has one name
    again = layer_recipe({"fc": "float32", "dw": "int8_weights", "conv2": "int4_weights", "conv1": "int4_weights"},
                         LAYERS)
    assert again == rules and recipe_hash(again) == recipe_hash(rules)
    assert recipe_hash(layer_recipe({"conv1": "int8_weights"}, LAYERS)) != recipe_hash(rules)
    f16 = layer_recipe({"fc": "float16"}, LAYERS)[0]
    assert f16["algorithm_key"] == "float_casting" and f16["op_config"]["weight_tensor_config"]["dtype"] == "FLOAT"
    dyn = layer_recipe({"fc": "int8_dynamic"}, LAYERS)[0]["op_config"]
    assert dyn["compute_precision"] == "INTEGER" and not dyn["explicit_dequantize"]


def test_an_assignment_without_static_layers_is_the_recipe_it_was_before_static_precisions():
    # recipe hashes main made before int8 / int16x8 existed: a front.yaml written then still names its file
    for assign, was in (({"conv1": "int4_weights", "conv2": "int4_weights", "dw": "int8_weights", "fc": "float32"},
                         "5064a5bbbdbc"),
                        ({"conv1": "float16", "conv2": "int8_dynamic", "dw": "int8_weights", "fc": "int4_weights"},
                         "3891f5b73304")):
        rules = layer_recipe(assign, LAYERS)
        assert recipe_hash(rules) == was and not recipe_needs_calibration(rules)
        assert all(r["regex"] != ".*" and r["algorithm_key"] != "no_quantize" for r in rules)
    assert layer_recipe(dict.fromkeys(LAYERS, "float32"), LAYERS) == []


def test_a_static_layer_puts_every_operator_on_a_static_background_that_each_weighted_layer_overrides():
    rules = layer_recipe({"conv1": "int8", "dw": "int16x8", "conv2": "float32", "fc": "int4_weights"}, LAYERS)
    head = [(r["regex"], r["operation"], r["algorithm_key"]) for r in rules[:3]]
    assert head == [(".*", "*", "min_max_uniform_quantize"), (".*", "INPUT", "no_quantize"),
                    (".*", "OUTPUT", "no_quantize")]  # every op static; the model's input and output float32
    assert rules[0]["op_config"]["activation_tensor_config"] == {"num_bits": 8, "symmetric": False,
                                                                 "granularity": "TENSORWISE", "dtype": "INT"}
    by_layer = {r["regex"]: r for r in rules[3:]}
    assert set(by_layer) == {"^(conv1);$", "^(dw);$", "^(conv2);$", "^(fc);$"}  # every weighted layer explicit
    assert by_layer["^(conv2);$"]["algorithm_key"] == "no_quantize"  # float32 overrides the background
    a16 = by_layer["^(dw);$"]["op_config"]["activation_tensor_config"]
    assert a16["num_bits"] == 16 and a16["symmetric"] and by_layer["^(dw);$"]["operation"] == "DEPTHWISE_CONV_2D"
    assert by_layer["^(fc);$"]["op_config"]["explicit_dequantize"]  # int4 weights stay weight-only
    w4a8 = layer_recipe({"conv1": "int8x4"}, LAYERS)[-1]["op_config"]
    assert (w4a8["weight_tensor_config"]["num_bits"], w4a8["activation_tensor_config"]["num_bits"]) == (4, 8)
    assert recipe_needs_calibration(rules)
    # only int16x8 static layers: an int16 background (int8 neighbours would cut their activations to 8 bits)
    only16 = layer_recipe({"conv1": "int16x8", "fc": "int8_weights"}, LAYERS)
    assert only16[0]["op_config"]["activation_tensor_config"]["num_bits"] == 16
    assert not {"int8", "int16x8"} & set(layer_choices("EMBEDDING_LOOKUP"))
    assert fit_precision("int8", "EMBEDDING_LOOKUP") == "float16"  # the policy has no static embedding lookup


def test_a_static_recipe_is_calibrated_runs_on_litert_with_float_io_and_makes_the_same_bytes_each_time():
    from litert_quantizer import quantizer

    from tests.unit.test_quantizer import _run
    from tests.unit.tiny_tflite import mlp_tflite

    f = mlp_tflite((64, 48, 32, 16), seed=1)
    layers = weighted_layers(f)
    x = np.random.default_rng(0).normal(size=(8, 64)).astype(np.float32)
    # calibrated on one sample (repeated): its ranges are exact, whatever the quantizer's running average of
    # min / max does over samples that differ (its default), so the error below is the quantization's own
    calib = np.repeat(x[:1], 4, axis=0)
    ref = _run(f, x[:1])
    for assign, tolerance in (({"h0": "int8", "h1": "int8", "y": "int8"}, 0.03),  # every layer static int8
                              ({"h0": "int8", "h1": "float32", "y": "int16x8"}, 0.03),  # a float layer between
                              ({"h0": "int8_dynamic", "h1": "int8", "y": "float16"}, 0.03),  # other kinds beside
                              ({"h0": "int4_weights", "h1": "int16x8", "y": "int8_weights"}, 0.15),
                              ({"h0": "int8x4", "h1": "int8", "y": "int8x4"}, 0.25)):  # two int4-weight layers
        rules = layer_recipe(assign, layers)
        out = quantize_recipe(f, rules, "r", calib)
        assert hashlib.sha256(out).digest() == hashlib.sha256(quantize_recipe(f, rules, "r", calib)).digest()
        # the same samples as one dict per sample: the same file
        assert quantize_recipe(f, rules, "r", [{"x": calib[i:i + 1]} for i in range(len(calib))]) == out
        got = _run(out, x[:1])  # float32 in, float32 out: the background leaves the model's input and output
        assert float(np.linalg.norm(got - ref) / np.linalg.norm(ref)) < tolerance, assign
    all8 = layer_recipe(dict.fromkeys(layers, "int8"), layers)
    assert len(quantize_recipe(f, all8, "r", x)) < 0.5 * len(f)  # int8 weights: a quarter of the float ones
    assert quantize_recipe(f, all8, "r", 3 * x) != quantize_recipe(f, all8, "r", x)  # other ranges, other file
    with pytest.raises(ModelFileError, match="the recipe of v has static int8 / int16 activations: it needs "
                                             "calibration samples"):
        quantize_recipe(f, all8, "the recipe of v")
    assert quantizer.Quantizer(bytearray(f), all8).need_calibration  # the catalogue agrees with the quantizer
    plain = layer_recipe({"h0": "int4_weights"}, layers)
    assert not quantizer.Quantizer(bytearray(f), plain).need_calibration
    assert quantize_recipe(f, plain, "r", x) == quantize_recipe(f, plain, "r")  # samples unused without static


@pytest.mark.parametrize("assign, words", [
    ({"dw": "int4_weights"}, "DEPTHWISE_CONV_2D cannot take int4_weights"),
    ({"fc": "int3"}, "unknown precision 'int3'"),
    ({"nope": "int8_weights"}, "not an operator with weights"),
])
def test_an_assignment_the_quantizer_cannot_apply_is_refused_naming_the_layer(assign, words):
    with pytest.raises(ValueError, match=words):
        layer_recipe(assign, LAYERS)


def test_a_precision_an_operator_cannot_take_falls_back_to_the_next_larger_one():
    assert fit_precision("int4_weights", "DEPTHWISE_CONV_2D") == "int8_weights"
    assert fit_precision("int4_weights", "CONV_2D") == "int4_weights"
    assert fit_precision("float16", "BATCH_MATMUL") == "float32"
    # a static one falls back along its kind first: int4 weights with int8 activations in a depthwise conv
    # (the quantizer's static_wi4_ai8 takes conv and fully connected only) to static int8, not to float compute
    assert fit_precision("int8x4", "DEPTHWISE_CONV_2D") == fit_precision("int8x4", "BATCH_MATMUL") == "int8"
    assert fit_precision("int8x4", "EMBEDDING_LOOKUP") == "int4_weights"  # no static embedding lookup at all
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL"):
        assert "float32" in layer_choices(op)
        for p in LAYER_PRECISIONS:
            assert fit_precision(p, op) in layer_choices(op)


def test_the_most_sensitive_layers_are_decided_alone_and_the_rest_together():
    snr = {"conv1": 30.0, "dw": 5.0, "conv2": 12.0, "fc": 40.0}  # lowest SNR = most sensitive
    groups = make_groups(LAYERS, snr, 2)
    assert groups == [Group("L0", ("dw",)), Group("L1", ("conv2",)), Group(REST, ("conv1", "fc"))]
    assert make_groups(LAYERS, snr, 10)[-1].key != REST  # every layer alone: no rest group
    choice = {"L0": "float16", "L1": "int8_weights", REST: "int4_weights"}
    assert assignment(groups, choice, LAYERS) == {"conv1": "int4_weights", "dw": "float16", "conv2": "int8_weights",
                                                  "fc": "int4_weights"}
    starts = seeds(groups)
    assert starts[0] == {"L0": "int4_weights", "L1": "int4_weights", REST: "int4_weights"}  # uniform first
    # the evidence's guesses: int4 except the most sensitive one (then two) kept at int8 weights
    assert {"L0": "int8_weights", "L1": "int4_weights", REST: "int4_weights"} in starts
    assert {"L0": "int8_weights", "L1": "int8_weights", REST: "int4_weights"} in starts
    # and static int8 (the fast one on XNNPACK) except the most sensitive ones at float32 or int16x8
    assert {"L0": "int8", "L1": "int8", REST: "int8"} in starts and uniform(groups, "int16x8") in starts
    assert {"L0": "float32", "L1": "int8", REST: "int8"} in starts
    assert {"L0": "float32", "L1": "float32", REST: "int8"} in starts
    assert {"L0": "int16x8", "L1": "int8", REST: "int8"} in starts
    assert len({json.dumps(s, sort_keys=True) for s in starts}) == len(starts) == 7 + 6  # k = 4 > 2 layers alone
    assert seed_label({"L0": "float32", "L1": "float32", REST: "int8"}, groups) == (
        "seed: int8 except 2 most sensitive at float32")
    # every group decided alone: "except all of them" would be another uniform assignment, so not a seed
    alone = make_groups(LAYERS, snr, 4)
    assert {"L0": "float32", "L1": "float32", "L2": "float32", "L3": "float32"} not in seeds(alone)


def test_the_largest_layers_of_the_rest_get_their_own_group_and_seeds():
    """Half the rest's weights in its largest layers: one group, so int4 can shrink most of the file alone."""
    from workbench.analysis.precision import LARGE

    layers = {f"c{i}": "CONV_2D" for i in range(6)}
    weights = {"c0": 10, "c1": 500, "c2": 40, "c3": 300, "c4": 100, "c5": 50}  # 1000 in all
    snr = {"c0": 1.0}  # c0 the most sensitive
    groups = make_groups(layers, snr, 1, weights)
    # the rest holds 990: c1 (500) alone is already half of it
    assert groups == [Group("L0", ("c0",)), Group(LARGE, ("c1",)), Group(REST, ("c2", "c3", "c4", "c5"))]
    weights["c1"] = 200  # the rest holds 690: c1 + c3 (500) reach half, taken largest first
    assert make_groups(layers, snr, 1, weights)[1] == Group(LARGE, ("c1", "c3"))
    assert make_groups(layers, snr, 1) == [Group("L0", ("c0",)), Group(REST, tuple(f"c{i}" for i in range(1, 6)))]
    assert make_groups(dict(list(layers.items())[:4]), snr, 1, weights)[-1] == Group(REST, ("c1", "c2", "c3"))
    weights["c1"] = 500
    starts = seeds(groups, weights)
    large = {"L0": "int8", LARGE: "int8x4", REST: "int8"}
    assert starts.index(large) == 7  # right after the 7 uniform references
    assert {"L0": "int8", LARGE: "int4_weights", REST: "int8"} in starts
    assert seed_label(large, groups, weights) == "seed: int8 except the largest layers (half the weights) at int8x4"
    assert seed_label({"L0": "float32", LARGE: "int8", REST: "int8"}, groups, weights) == (
        "seed: int8 except 1 most sensitive at float32")
    plain = make_groups(layers, snr, 1)  # no weights known: no rest_large group, no size seeds
    assert all(len(set(s.values())) == 1 or "int8x4" not in s.values() for s in seeds(plain))
    # every layer decided alone (the digits CNN): the largest layers are still a seed's own choice
    alone = make_groups(layers, snr, 6, weights)
    assert [g.key for g in alone] == [f"L{i}" for i in range(6)]
    big = {g.key for g in alone if set(g.layers) & {"c1"}}  # c1 alone holds half of the 1000
    assert {g.key: "int8x4" if g.key in big else "int8" for g in alone} in seeds(alone, weights)


def test_layer_weights_are_each_weight_inputs_elements():
    from workbench.convert.quantizer import layer_weights

    content = dense_tflite(inputs=64, outputs=32)
    layers, weights = weighted_layers(content), layer_weights(content)
    assert list(weights) == list(layers) and list(weights.values()) == [64 * 32]


def test_budgets_become_constraints_that_agree_with_the_recommendation():
    budgets = BudgetSpec(max_accuracy_drop=1.0, max_size_kb=10.0, max_latency_ms=2.0, max_memory_mb=5.0)
    row = {"variant": "v", "accuracy_delta": -0.5, "size_bytes": 12 * 1024, "latency_ms_p50": 1.0,
           "memory_mb_peak": 6.0}
    excess = budget_excess(row, budgets)
    assert excess == pytest.approx({"max_accuracy_drop": -0.5, "max_size_kb": 0.2, "max_latency_ms": -0.5,
                                    "max_memory_mb": 0.2})
    over = {k for k, v in excess.items() if v > 0}
    assert over == {v.split(" ")[0] for v in budget_violations(row, budgets)}  # the same limits
    assert budget_excess(row, BudgetSpec()) == {}
    assert budget_excess({**row, "accuracy_delta": -0.1}, BudgetSpec(max_accuracy_drop=0.0)) == {
        "max_accuracy_drop": pytest.approx(0.1)}
    assert [m for m, _ in OBJECTIVES] == ["accuracy_delta", "size_bytes", "latency_ms_p50"]
    assert dict(OBJECTIVES)["accuracy_delta"] == "max" and objective_values(row) == [-0.5, 12 * 1024, 1.0]


def test_a_layer_recipe_makes_the_file_its_precision_says_and_the_same_bytes_each_time():
    f = dense_tflite(256, 64)
    assert weighted_layers(f) == {"y": "FULLY_CONNECTED"}
    sizes = {}
    for p in ("float16", "int8_weights", "int4_weights", "int8_dynamic"):
        rules = layer_recipe({"y": p}, weighted_layers(f))
        out = quantize_recipe(f, rules)
        assert hashlib.sha256(out).digest() == hashlib.sha256(quantize_recipe(f, rules)).digest()
        sizes[p] = len(out)
    assert sizes["int4_weights"] < sizes["int8_weights"] < sizes["float16"] < len(f)
    # the uniform mode and the per-layer recipe that says the same thing make the same weights
    assert abs(len(quantize_tflite(f, "int4_weights")) - sizes["int4_weights"]) < 256


def test_mixed_needs_a_recipe_and_a_recipe_needs_mixed():
    rules = layer_recipe({"fc": "int4_weights"}, LAYERS)
    v = VariantSpec(name="m", quantization="mixed", recipe=rules)
    assert v.technique == f"ptq:mixed-{recipe_hash(rules)}"
    for bad, words in ((dict(quantization="mixed"), "needs a recipe"),
                       (dict(quantization="int8", recipe=rules), "set quantization: mixed"),
                       (dict(quantization="mixed", recipe=[]), "recipe: is empty"),
                       (dict(quantization="mixed", recipe=[{"regex": ".*"}]), "lacks operation")):
        with pytest.raises(SpecError) as info:
            parse_experiment({**BASE, "variants": [{"name": "m", **bad}]}, "f.yaml")
        assert words in str(info.value) and "\n" not in str(info.value)
    assert "mixed" not in QUANTIZER_MODES  # `workbench quantize -m` offers the fixed recipes only


def test_a_recipe_file_in_an_experiment_is_read_in_and_enters_the_variant_id(tmp_path):
    from workbench.spec.plan import make_plan

    rules = layer_recipe({"fc": "int4_weights"}, LAYERS)
    (tmp_path / "r.json").write_text(json.dumps(rules))
    (tmp_path / "e.yaml").write_text(
        "name: e\nbaseline: {model: digits_cnn, dataset: digits}\n"
        "variants:\n  - {name: found, quantization: mixed, recipe: r.json}\n"
        f"  - {{name: inline, quantization: mixed, recipe: {json.dumps(layer_recipe({'fc': 'int8_weights'}, LAYERS))}}}\n")
    spec = load_experiment(tmp_path / "e.yaml", machine=False)
    assert list(spec.variant("found").recipe) == rules  # the content, not the path
    plan = make_plan(spec, "data")
    ids = {p.name: p.id for p in plan.variants}
    assert ids["found"] != ids["inline"]
    (tmp_path / "r.json").write_text(json.dumps(layer_recipe({"fc": "float16"}, LAYERS)))  # another recipe, same path
    assert {p.name: p.id for p in make_plan(load_experiment(tmp_path / "e.yaml", machine=False), "data").variants}[
        "found"] != ids["found"]
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(SpecError, match="variants.0.recipe: .* is not JSON"):
        load_experiment(tmp_path / "e.yaml", machine=False)
    (tmp_path / "r.json").unlink()
    with pytest.raises(SpecError, match="variants.0.recipe: no such file"):
        load_experiment(tmp_path / "e.yaml", machine=False)



class _StubMeasurer:
    """Stands in for the runtime: size from the precisions, accuracy lost only when layer a has int4 weights."""

    BYTES = {"float32": 4.0, "float16": 2.0, "int16x8": 1.0, "int8": 1.0, "int8_dynamic": 1.0, "int8_weights": 1.0,
             "int4_weights": 0.5, "int8x4": 0.5}

    def __init__(self, layers):
        self.layers, self.seen, self.calls = layers, {}, []
        self.weights = {}  # no size seeds: the seed order below is the sensitivity seeds'

    def measure(self, assign, origin):
        key = json.dumps(assign, sort_keys=True)
        if key in self.seen:
            return self.seen[key], False
        self.calls.append(origin)
        row = {"variant": f"v{len(self.seen)}", "origin": origin, "assignment": assign, "rules": 1,
               "accuracy_delta": -3.0 if assign["a"] in ("int4_weights", "int8x4") else 0.0,
               "size_bytes": 1000 * sum(self.BYTES[p] for p in assign.values()), "latency_ms_p50": 1.0,
               "memory_mb_peak": 1.0}
        row["within_budgets"] = row["accuracy_delta"] >= -1.0
        self.seen[key] = row
        return row, True


def test_the_optimiser_starts_from_the_seeds_measures_each_recipe_once_and_respects_the_budget():
    from workbench.run.precision import PrecisionResult, _optimise

    layers = {"a": "CONV_2D", "b": "CONV_2D", "c": "FULLY_CONNECTED"}
    out = PrecisionResult(out_dir=None, groups=make_groups(layers, {"a": 1.0, "b": 20.0, "c": 30.0}, 1))
    stub = _StubMeasurer(layers)
    _optimise(stub, out, trials=12, seed=0, max_seconds=600, budgets=BudgetSpec(max_accuracy_drop=1.0),
              progress=False, start=__import__("time").monotonic())
    assert out.trials == 12 and len(out.rows) == len(stub.calls) <= 12
    assert stub.calls[:7] == ["uniform int4_weights", "uniform int8_weights", "uniform int8_dynamic",
                              "uniform float16", "uniform int8", "uniform int16x8", "uniform int8x4"]
    assert stub.calls[7:11] == ["seed: int4 except 1 most sensitive at int8_weights",
                                "seed: int8 except 1 most sensitive at float32",
                                "seed: int4 except 1 most sensitive at float16",
                                "seed: int8 except 1 most sensitive at int16x8"]
    # the seed that keeps the sensitive layer off int4 is within the budget and smaller than every uniform
    # assignment that is: the front the search exists to find
    best = min((r for r in out.rows if r["within_budgets"]), key=lambda r: r["size_bytes"])
    uniform_ok = [r for r in out.rows if r["origin"].startswith("uniform") and r["within_budgets"]]
    assert best["assignment"]["a"] not in ("int4_weights", "int8x4")
    assert best["size_bytes"] < min(r["size_bytes"] for r in uniform_ok)
    few = PrecisionResult(out_dir=None, groups=out.groups)  # fewer trials than seeds: the rest never ran
    _optimise(_StubMeasurer(layers), few, trials=3, seed=0, max_seconds=600, budgets=BudgetSpec(), progress=False,
              start=__import__("time").monotonic())
    assert few.trials == 3 and len(few.rows) == 3


def test_the_cli_applies_a_recipe_file_to_a_tflite_you_bring_and_refuses_bad_input_in_one_line(tmp_path):
    from click.testing import CliRunner

    from workbench.cli import main

    f = tmp_path / "m.tflite"
    f.write_bytes(dense_tflite(256, 64))
    rules = layer_recipe({"y": "int4_weights"}, weighted_layers(f.read_bytes()))
    (tmp_path / "r.json").write_text(json.dumps(rules))
    r = CliRunner().invoke(main, ["quantize", str(f), "--recipe", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    out = tmp_path / f"m.mixed-{recipe_hash(rules)}.tflite"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(quantize_recipe(f.read_bytes(), rules)).hexdigest()
    (tmp_path / "bad.json").write_text(json.dumps([{"regex": ".*"}]))
    for args, words in ((["quantize", str(f), "--recipe", str(tmp_path / "bad.json")], "lacks operation"),
                        (["quantize", str(f), "--recipe", str(tmp_path / "none.json")], "no such file"),
                        (["search", "e.yaml", "--precision", "--trials", "0"], "--trials")):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and words in r.output and r.output.count("\n") == 1, r.output


def test_the_cli_calibrates_a_static_recipe_on_data_you_give_and_refuses_it_without(tmp_path):
    from click.testing import CliRunner

    from workbench.cli import main

    f = tmp_path / "m.tflite"
    f.write_bytes(dense_tflite(64, 16))
    rules = layer_recipe({"y": "int8"}, weighted_layers(f.read_bytes()))
    (tmp_path / "r.json").write_text(json.dumps(rules))
    out = tmp_path / f"m.mixed-{recipe_hash(rules)}.tflite"
    r = CliRunner().invoke(main, ["quantize", str(f), "--recipe", str(tmp_path / "r.json")])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "static int8/int16 activations and needs calibration samples: give --data" in r.output
    assert not out.exists()  # refused before any quantization
    x = np.random.default_rng(0).normal(size=(30, 64)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x_train=x)  # inputs only: no labels, no x_test needed
    r = CliRunner().invoke(main, ["quantize", str(f), "--recipe", str(tmp_path / "r.json"), "--data",
                                  str(tmp_path / "d.npz"), "--samples", "12"])
    assert r.exit_code == 0, r.output
    # its first 12 x_train samples, as the search's Measurer would pass them
    assert out.read_bytes() == quantize_recipe(f.read_bytes(), rules, "r", x[:12])
    np.savez(tmp_path / "nox.npz", y_train=np.zeros(3))
    np.savez(tmp_path / "nan.npz", x_train=np.full((3, 64), np.nan, np.float32))
    np.savez(tmp_path / "obj.npz", x_train=np.array([{"a": 1}], dtype=object))
    for data, words in ((tmp_path / "d.npy", "give an .npz"), (tmp_path / "none.npz", "does not exist"),
                        (tmp_path / "nox.npz", "is missing array(s) ['x_train']"), (tmp_path / "nan.npz", "NaN value"),
                        (tmp_path / "obj.npz", "pickled objects, which are never loaded")):
        r = CliRunner().invoke(main, ["quantize", str(f), "--recipe", str(tmp_path / "r.json"), "--data", str(data)])
        assert r.exit_code == 2 and words in r.output and r.output.count("\n") == 1, r.output
    np.savez(tmp_path / "wrong.npz", x_train=x[:, :10], x_test=x[:5, :10])  # 10 features for a 64-input model
    r = CliRunner().invoke(main, ["quantize", str(f), "--recipe", str(tmp_path / "r.json"), "--data",
                                  str(tmp_path / "wrong.npz")])
    assert r.exit_code == 2 and "cannot make" in r.output and r.output.count("\n") == 1, r.output
