"""Spec validation and variant ids: no TensorFlow needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from workbench.errors import SpecError
from workbench.spec import (
    QUANT_MODES,
    BaselineSpec,
    TargetSpec,
    VariantSpec,
    load_experiment,
    parse_experiment,
    variant_id,
)

REPO = Path(__file__).resolve().parents[2]
GOOD = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
        "variants": [{"name": "a", "quantization": "int8"}]}


def _err(data: dict, source: str = "f.yaml") -> str:
    with pytest.raises(SpecError) as info:
        parse_experiment(data, source)
    msg = str(info.value)
    assert "\n" not in msg, "errors are one line"
    return msg


def test_unknown_quantization_mode_names_key_value_and_allowed():
    msg = _err({**GOOD, "variants": [{"name": "a", "quantization": "int4"}]})
    assert msg.startswith("f.yaml: variants.0.quantization:")
    assert "'int4'" in msg
    for mode in QUANT_MODES:
        assert mode in msg


def test_missing_baseline_is_named():
    msg = _err({"name": "x", "variants": [{"name": "a"}]})
    assert "baseline" in msg and "missing" in msg


def test_unknown_key_is_named_with_path():
    msg = _err({**GOOD, "baseline": {"model": "m", "dataset": "d", "colour": 1}})
    assert "baseline.colour" in msg and "unknown key" in msg


def test_unknown_technique_lists_allowed():
    msg = _err({**GOOD, "variants": [{"name": "a", "steps": [{"technique": "shrink"}]}]})
    assert "shrink" in msg and "prune" in msg and "cluster" in msg


def test_wrong_type_is_named():
    msg = _err({**GOOD, "target": {"threads": "two"}})
    assert "target.threads" in msg and "'two'" in msg


def test_duplicate_variant_names_rejected():
    assert "repeated: a" in _err({**GOOD, "variants": [{"name": "a"}, {"name": "a"}]})


def test_specs_are_frozen():
    v = VariantSpec(name="a")
    with pytest.raises(ValidationError, match="frozen"):
        v.quantization = "int8"  # type: ignore[misc]


def test_target_caps_must_cover_minimums():
    with pytest.raises(ValueError, match="max_runs"):
        TargetSpec(min_runs=100, max_runs=10)


def test_float_reference_added_when_missing():
    spec = parse_experiment(GOOD)
    names = [v.name for v in spec.resolved_variants()]
    assert names == ["baseline", "a"]


def test_matrix_expands_cartesian_product():
    spec = parse_experiment({**GOOD, "matrix": {"quantization": ["float16", "int8"],
                                                 "steps": [[], [{"technique": "prune", "sparsity": [0.5, 0.8]}]]}})
    names = {v.name for v in spec.resolved_variants()}
    assert {"float16", "int8", "prune-sparsity0.5_int8", "prune-sparsity0.8_float16"} <= names
    assert len(spec.resolved_variants()) == 1 + 1 + 2 * 3  # baseline + explicit + matrix


def test_matrix_errors_are_spec_errors():
    assert "int9" in _err({**GOOD, "matrix": {"quantization": ["int9"]}})


def _ids():
    b = BaselineSpec(model="digits_cnn", dataset="digits")
    return variant_id(VariantSpec(name="a", quantization="int8"), b, "fp", TargetSpec())


def test_variant_id_stable_across_processes():
    code = ("from workbench.spec import *; b=BaselineSpec(model='digits_cnn', dataset='digits');"
            "print(variant_id(VariantSpec(name='a', quantization='int8'), b, 'fp', TargetSpec()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert out == _ids()
    assert len(out) == 64


def test_variant_id_ignores_name_but_not_content():
    b = BaselineSpec(model="digits_cnn", dataset="digits")
    t = TargetSpec()
    a = variant_id(VariantSpec(name="a", quantization="int8"), b, "fp", t)
    assert a == variant_id(VariantSpec(name="renamed", quantization="int8"), b, "fp", t)
    assert a != variant_id(VariantSpec(name="a", quantization="int8_io"), b, "fp", t)
    assert a != variant_id(VariantSpec(name="a", quantization="int8"), b, "other-data", t)
    assert a != variant_id(VariantSpec(name="a", quantization="int8"), b, "fp", TargetSpec(threads=2))


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nbaseline: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml: line \d+, column \d+: malformed YAML"):
        load_experiment(p)


def test_yaml_is_parsed_safely(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpecError, match="malformed YAML"):
        load_experiment(p)


def test_base_file_is_merged(tmp_path):
    (tmp_path / "_base.yaml").write_text("baseline: {model: digits_cnn, dataset: digits}\ntarget: {threads: 2}\n")
    (tmp_path / "e.yaml").write_text(textwrap.dedent("""\
        base: _base.yaml
        name: e
        target: {batch: 4}
        variants: [{name: a}]
        """))
    spec = load_experiment(tmp_path / "e.yaml")
    assert spec.target.threads == 2 and spec.target.batch == 4 and spec.baseline.model == "digits_cnn"


@pytest.mark.parametrize("path", sorted((REPO / "experiments").glob("[!_]*.yaml")), ids=lambda p: p.name)
def test_every_shipped_experiment_loads(path):
    spec = load_experiment(path)
    assert spec.resolved_variants()


def test_variant_id_distinguishes_default_steps_of_different_techniques():
    b, t = BaselineSpec(model="digits_cnn", dataset="digits"), TargetSpec()
    ids = {variant_id(VariantSpec.model_validate({"name": "a", "steps": [{"technique": tech}], "quantization": "int8"}),
                      b, "fp", t)
           for tech in ("prune", "cluster", "qat", "prune_structured")}
    assert len(ids) == 4


def test_variant_id_unchanged_by_explicit_defaults():
    b = BaselineSpec(model="digits_cnn", dataset="digits")
    a = variant_id(VariantSpec(name="a", quantization="int8"), b, "fp", TargetSpec())
    assert a == variant_id(VariantSpec(name="a", quantization="int8"), b, "fp", TargetSpec(threads=1, kernels="optimized"))


def test_documented_experiment_example_is_valid():
    """The annotated example in docs/experiments.md is a real, valid experiment (docs match the code)."""
    import re

    import yaml

    text = (REPO / "docs" / "experiments.md").read_text()
    block = re.search(r"```yaml\n(name: digits-quick.*?)```", text, re.S)
    assert block, "docs/experiments.md lost its experiment example"
    data = yaml.safe_load(block.group(1))
    data.pop("base")  # resolved relative to experiments/; the rest must stand on its own
    spec = parse_experiment(data, "docs/experiments.md")
    assert len(spec.resolved_variants()) >= 7 and spec.search_candidates()


@pytest.mark.parametrize("variant, message", [
    ({"name": "q", "steps": [{"technique": "qat"}], "quantization": "float16"}, "export it with quantization int8"),
    ({"name": "p", "steps": [{"technique": "prune", "epochs": 0}]}, "greater than or equal to 1"),
    ({"name": "s", "steps": [{"technique": "prune_structured", "epochs": 0}]}, "greater than or equal to 1"),
])
def test_rules_that_used_to_fail_mid_sweep_are_spec_errors(variant, message):
    data = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"}, "variants": [variant]}
    with pytest.raises(SpecError, match=message):
        parse_experiment(data)


@pytest.mark.parametrize("baseline,epochs", [
    ({"model": "digits_cnn"}, 10),  # a zoo model is built untrained: it keeps its training default
    ({"model": "m.keras"}, 0),  # a user's model is the float reference as given
    ({"model": "m.keras", "training": {"batch_size": 64}}, 0),
    ({"model": "m.keras", "training": {"epochs": 10}}, 10),  # retrained only when the experiment says so
    ({"model": "saved/", "training": {"epochs": 2}}, 2),
])
def test_user_models_are_not_retrained_unless_asked(baseline, epochs):
    spec = BaselineSpec.model_validate({**baseline, "dataset": "digits"})
    assert spec.training.epochs == epochs
    assert BaselineSpec.model_validate(spec.model_dump()) == spec  # a plan's round trip keeps it


def test_a_user_model_kept_as_given_has_its_own_ids():
    """The old default (retrained 10 epochs) and the new one (as given) are different baselines: no cache is shared."""
    from workbench.spec import baseline_id

    given = BaselineSpec(model="m.keras", dataset="digits")
    retrained = BaselineSpec(model="m.keras", dataset="digits", training={"epochs": 10})
    assert baseline_id(given, "d", "f") != baseline_id(retrained, "d", "f")
    zoo = BaselineSpec(model="digits_cnn", dataset="digits")
    assert baseline_id(zoo, "d") == baseline_id(BaselineSpec(model="digits_cnn", dataset="digits",
                                                             training={"epochs": 10}), "d")


def test_a_zoo_builder_revision_is_part_of_the_baseline_id():
    """MobileNetV2's builder changed (BatchNormalization momentum): its old caches are not reused; the digits CNN's
    ids, whose builder did not change, stay what they were (the payload has no revision key)."""
    import hashlib

    from workbench.catalog.zoo import ZOO_MODELS
    from workbench.spec import baseline_id
    from workbench.spec.ids import canonical_json

    mnv2 = BaselineSpec(model="mobilenet_v2", dataset="synthetic")
    assert ZOO_MODELS["mobilenet_v2"].revision >= 1
    before = hashlib.sha256(canonical_json({"baseline": mnv2.model_dump(mode="json", exclude_defaults=True),
                                            "dataset": "d"}).encode()).hexdigest()
    assert baseline_id(mnv2, "d") != before
    digits = BaselineSpec(model="digits_cnn", dataset="digits")
    assert ZOO_MODELS["digits_cnn"].revision == 0
    assert baseline_id(digits, "d") == hashlib.sha256(canonical_json(
        {"baseline": digits.model_dump(mode="json", exclude_defaults=True), "dataset": "d"}).encode()).hexdigest()
