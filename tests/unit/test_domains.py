"""Every value with a domain is checked at `validate` (issue 20): booleans are not numbers, seeds fit 32 bits,
threads / CPU pins / load clients fit the machine, the profiling budget fits the variant timeout, zoo
``model_args`` are the builder's, durations are positive, and an experiment has at least one variant."""

from __future__ import annotations

import ast
import copy
import os
from pathlib import Path
from typing import Any

import pytest

from workbench.catalog.zoo import ARG_DOMAINS, ZOO_MODELS
from workbench.errors import SpecError, WorkbenchError
from workbench.spec import parse_experiment
from workbench.spec.load import check_machine

GOOD: dict[str, Any] = {"name": "x", "baseline": {"model": "digits_cnn", "dataset": "digits"},
                        "variants": [{"name": "a", "quantization": "int8"}]}


def _with(path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    cur: Any = d
    for key in parents:
        cur = cur[int(key)] if isinstance(cur, list) else cur.setdefault(key, {})
    cur[last] = value
    return d


def _refused(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as exc:
        parse_experiment(data, "e.yaml")
    assert "\n" not in str(exc.value)
    return str(exc.value)


@pytest.mark.parametrize("path", ["baseline.training.epochs", "baseline.training.learning_rate", "target.threads",
                                  "target.min_seconds", "calibration_samples", "rounds"])
def test_a_boolean_is_not_a_number(path: str) -> None:
    assert f"{path}: true is a boolean, not a number" in _refused(_with(path, True))


def test_booleans_in_steps_and_lists_and_bool_fields() -> None:
    msg = _refused(_with("variants", [{"name": "a", "steps": [{"technique": "prune", "epochs": True}]}]))
    assert "variants.0.steps.0.prune.epochs: true is a boolean" in msg
    assert "cpu_pin: [true] is a boolean" in _refused(_with("target.cpu_pin", [True]))
    assert parse_experiment(_with("target.xnnpack", False), "e.yaml").target.xnnpack is False  # a bool field


@pytest.mark.parametrize("seed", [-5, 2**32, 2**80])
def test_seeds_outside_32_bits_are_refused(seed: int) -> None:
    assert "baseline.training.seed" in _refused(_with("baseline.training.seed", seed))
    assert parse_experiment(_with("baseline.training.seed", 2**32 - 1), "e.yaml").baseline.training.seed == 2**32 - 1


@pytest.mark.parametrize("target, words", [
    ({"threads": 3}, "target.threads: 3 threads on a machine with 2 usable CPU(s) (0-1)"),
    ({"cpu_pin": [0, 999]}, "target.cpu_pin: CPU 999 is not one of this machine's usable CPUs (0-1)"),
    ({"clients": 9, "load_seconds": 1}, "target.clients: 9 load clients on 2 usable CPU(s)"),
])
def test_targets_beyond_the_machine_are_refused(target: dict[str, Any], words: str) -> None:
    spec = parse_experiment(_with("target", target), "e.yaml")  # the spec itself reads no environment
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_machine(spec, "e.yaml", cpus=[0, 1])
    check_machine(spec, "e.yaml", cpus=list(range(1000)))  # the same target on a larger machine


@pytest.mark.parametrize("target, words", [
    ({"threads": 3}, "target.threads: 3 threads on pi@device ({how}), 2 usable CPU(s) (0-1); use at most 2"),
    ({"cpu_pin": [0, 999]}, "target.cpu_pin: CPU 999 is not one of the usable CPUs of pi@device ({how}), 2 usable"),
    ({"clients": 9, "load_seconds": 1}, "target.clients: 9 load clients on pi@device ({how}), 2 usable CPU(s) (0-1)"),
])
def test_a_remote_target_is_checked_against_its_known_cpus(target: dict[str, Any], words: str, tmp_path: Path) -> None:
    """A remote device's CPUs are known when the experiment declares them (``cpus``) or when a profile of that
    device from this project recorded them (``workbench.devices``); this machine's never count for it."""
    from workbench.devices import known_device, record_device

    declared = parse_experiment(_with("target", {**target, "host": "pi@device", "cpus": 2}), "e.yaml")
    with pytest.raises(SpecError) as exc:
        check_machine(declared, "e.yaml", cpus=list(range(1000)), root=tmp_path)
    assert words.format(how="declared by target.cpus: 2") in str(exc.value)
    bigger = parse_experiment(_with("target", {**target, "host": "pi@device", "cpus": 1000}), "e.yaml")
    assert check_machine(bigger, "e.yaml", cpus=[0], root=tmp_path) == []  # fits the device; this machine is small

    remote = parse_experiment(_with("target", {**target, "host": "pi@device"}), "e.yaml")
    [note] = check_machine(remote, "e.yaml", cpus=[0, 1], root=tmp_path)  # nothing known: said, not refused
    assert note == ("target: remote CPUs unknown, not checked: threads, cpu_pin and clients on pi@device (declare "
                    "target.cpus: N, or profile the device once from this project)")
    axes = parse_experiment({**_with("target", {**target, "host": "pi@device"}), "profiles": [{"name": "t1"}]}, "e.yaml")
    assert len(check_machine(axes, "e.yaml", cpus=[0, 1], root=tmp_path)) == 1  # one note per device
    record_device("pi@device", 22, [1, 0], "ARM Cortex-A72", tmp_path)  # what its last profile found
    known = known_device("pi@device", 22, tmp_path)
    assert known is not None and known.cpus == (0, 1) and known.seen.startswith("20")
    with pytest.raises(SpecError) as exc:
        check_machine(remote, "e.yaml", cpus=list(range(1000)), root=tmp_path)
    assert words.format(how=f"as its profile of {known.seen} found it") in str(exc.value)
    other_port = parse_experiment(_with("target", {**target, "host": "pi@device", "ssh_port": 2222}), "e.yaml")
    assert "remote CPUs unknown" in check_machine(other_port, "e.yaml", cpus=[0, 1], root=tmp_path)[0]


def test_the_devices_record_survives_what_a_file_can_hold(tmp_path: Path) -> None:
    from workbench.devices import DEVICES_FILE, known_device, record_device

    assert known_device("pi@device", 22, tmp_path) is None  # no record yet
    (tmp_path / DEVICES_FILE).parent.mkdir(parents=True)
    for text in ("not json", "[1, 2]", '{"pi@device:22": {"cpus": []}}', '{"pi@device:22": {"cpus": [true]}}',
                 '{"pi@device:22": {"cpus": [-1]}}', '{"pi@device:22": 3}'):
        (tmp_path / DEVICES_FILE).write_text(text)
        assert known_device("pi@device", 22, tmp_path) is None, text  # unreadable: nothing known, never an error
    (tmp_path / DEVICES_FILE).unlink()
    os.mkfifo(tmp_path / DEVICES_FILE)  # a named pipe is not waited on
    assert known_device("pi@device", 22, tmp_path) is None
    (tmp_path / DEVICES_FILE).unlink()
    record_device("pi@device", 22, [3, 2, 2], "", tmp_path)  # replaces what could not be read
    record_device("other@box", 22, [0], "", tmp_path)
    assert known_device("pi@device", 22, tmp_path).cpus == (2, 3)  # type: ignore[union-attr]
    assert known_device("other@box", 22, tmp_path).cpus == (0,)  # type: ignore[union-attr]
    (tmp_path / "ro").write_text("")
    record_device("x@y", 22, [0], "", tmp_path / "ro")  # a file where the folder should be: skipped


def test_cpus_is_a_remote_declaration_and_no_part_of_the_ids() -> None:
    assert "cpus: 4 declares a remote device's CPUs (with host: user@device)" in _refused(_with("target", {"cpus": 4}))
    assert "target.cpus: Input should be greater than or equal to 1" in _refused(
        _with("target", {"host": "pi@device", "cpus": 0}))
    from workbench.spec.ids import variant_id

    a = parse_experiment(_with("target", {"host": "pi@device"}), "e.yaml")
    b = parse_experiment(_with("target", {"host": "pi@device", "cpus": 4}), "e.yaml")
    assert variant_id(a.variants[0], a.baseline, "d", a.target) == variant_id(b.variants[0], b.baseline, "d", b.target)


def test_a_profile_axis_beyond_the_machine_is_refused() -> None:
    spec = parse_experiment(_with("profiles", [{"name": "t8", "threads": 8}]), "e.yaml")
    with pytest.raises(SpecError, match="profiles.0.threads: 8 threads"):
        check_machine(spec, "e.yaml", cpus=[0, 1])


@pytest.mark.parametrize("target", [{"warmup_runs": 10**12}, {"min_runs": 10**10, "max_runs": 10**10},
                                    {"min_seconds": 1000, "max_seconds": 1000}, {"clients": 2, "load_seconds": 901}])
def test_a_profiling_budget_over_the_timeout_is_refused(target: dict[str, Any]) -> None:
    msg = _refused(_with("target", target))
    assert msg.startswith("e.yaml: variant_timeout_s: profiling alone takes at least") and "over the timeout" in msg
    assert parse_experiment({**_with("target", target), "variant_timeout_s": 10**9}, "e.yaml")  # a longer timeout


def test_a_variant_timeout_shorter_than_profiling_is_refused() -> None:
    data = _with("variants", [{"name": "a", "timeout_s": 1}])
    assert "e.yaml: variants.0.timeout_s: profiling alone takes at least 2 s, over the timeout of 1 s" in _refused(data)


def test_model_args_are_the_zoo_builders() -> None:
    assert "model_args: 'widht' is not an argument of zoo model digits_cnn; it takes width, dense" in _refused(
        _with("baseline.model_args", {"widht": 0.5}))
    assert "model_args: dense: 2.5 is not a whole number" in _refused(_with("baseline.model_args", {"dense": 2.5}))
    assert "model_args: width: 0 must be > 0" in _refused(_with("baseline.model_args", {"width": 0}))
    assert "model_args: 'width' is not an argument of zoo model mobilenet_v2" in _refused(
        {**_with("baseline.model_args", {"width": 1}), "baseline": {"model": "mobilenet_v2", "dataset": "digits",
                                                                      "model_args": {"width": 1}}})
    step = {"technique": "distill", "student_args": {"widht": 0.5}}
    assert "student_args: 'widht' is not an argument" in _refused(_with("variants", [{"name": "d", "steps": [step]}]))
    assert "student: 'resnet' is not a zoo model" in _refused(
        _with("variants", [{"name": "d", "steps": [{"technique": "distill", "student": "resnet"}]}]))


def test_the_catalogue_args_are_the_builders_parameters() -> None:
    """Read from workbench/models.py's source (no TensorFlow): each builder's parameters after (input_shape,
    num_classes) are the catalogue's ``args`` and have a domain."""
    tree = ast.parse((Path(__file__).parents[2] / "workbench" / "models.py").read_text())
    funcs = {f.name: [a.arg for a in f.args.args] for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    assert funcs["digits_cnn"][2:] == list(ZOO_MODELS["digits_cnn"].args)
    assert funcs["build"][2:] == list(ZOO_MODELS["mobilenet_v2"].args) == list(ZOO_MODELS["mobilenet_v3_small"].args)
    assert {a for m in ZOO_MODELS.values() for a in m.args} == set(ARG_DOMAINS)


def test_an_experiment_without_variants_is_refused() -> None:
    assert "defines no variants" in _refused(_with("variants", []))
    assert "defines no variants" in _refused({**GOOD, "variants": [], "matrix": {}})


@pytest.mark.parametrize("text", ["-5h", "0m", "nanh", "infd"])
def test_since_must_be_a_positive_duration(text: str) -> None:
    from workbench.cli import _duration_s

    with pytest.raises(WorkbenchError, match="not a positive duration"):
        _duration_s(text)
    assert _duration_s("90m") == 5400


def test_a_name_too_long_for_a_file_name_is_refused() -> None:
    """200 CJK characters are 600 bytes: no file system takes them as a file name (255 bytes)."""
    msg = _refused({**GOOD, "name": "实" * 200})
    assert "is 600 bytes long in UTF-8 (200 characters), over the limit of 200 bytes" in msg
    assert parse_experiment({**GOOD, "name": "实" * 66}, "e.yaml").name == "实" * 66  # 198 bytes
    assert "201 bytes long in UTF-8," in _refused({**GOOD, "name": "a" * 201})


def test_the_longest_file_named_after_an_experiment_fits_255_bytes() -> None:
    from workbench.run.sweep import new_sweep_id
    from workbench.spec.experiment import MAX_NAME_BYTES

    assert len(f"{'x' * MAX_NAME_BYTES}-search-{new_sweep_id()}.html".encode()) <= 255


def test_profile_host_is_checked_against_the_recorded_device_and_says_when_it_knows_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from workbench.cli import main
    from workbench.devices import record_device

    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))  # the project whose .workbench/devices.json is read
    args = ["profile", "missing.tflite", "--host", "pi@device", "--threads", "8"]
    r = CliRunner().invoke(main, args)  # nothing known: said, then the run goes on (here: no such model file)
    assert "note: remote CPUs unknown, not checked: pi@device was never profiled" in r.output
    assert r.exit_code == 2 and "missing.tflite" in r.output
    record_device("pi@device", 22, [0, 1], "ARM", tmp_path)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "--threads: 8 threads on pi@device (as its profile of" in r.output
    assert "remote CPUs unknown" not in r.output and "missing.tflite" not in r.output  # refused before the file
