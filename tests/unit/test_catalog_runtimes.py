"""The runtime catalogue is the one place a runtime is declared: everything that lists runtimes derives from
it, and the code that differs per runtime (the runner's backends, the in-process predictions, the producers
of other file formats) covers exactly its runtimes. No runtime is imported here."""

from __future__ import annotations

import ast
import importlib.util

import click
import pytest
from pydantic import ValidationError

from workbench.catalog import RUNTIMES, accelerators, display_name, runtime, runtime_names
from workbench.profile.targets import BACKENDS, FORMATS, RUNNER


def _runner_module():
    spec = importlib.util.spec_from_file_location("wb_runner_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backend_package(name: str) -> str:
    """The ``PACKAGE = "..."`` a runner backend declares, read without importing its runtime."""
    tree = ast.parse((BACKENDS / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PACKAGE" for t in node.targets):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"runners/{name}.py declares no PACKAGE")


def test_records_are_complete_and_consistent():
    assert runtime_names()[0] == "litert"  # the default: variant ids of existing experiments never change
    for name, r in RUNTIMES.items():
        assert r.name == name and r.display and r.description and r.package and r.how
        assert r.file_format.startswith(".") and r.formats[0] == r.file_format
        assert r.accelerators[0] == "cpu"
        assert r.made_from in ("tflite", "keras")
    assert display_name("onnxruntime") == "ONNX Runtime" and display_name("tvm") == "tvm"
    with pytest.raises(ValueError, match="unknown runtime 'tvm'; known: " + ", ".join(runtime_names())):
        runtime("tvm")


def test_the_runner_finds_one_backend_per_runtime_and_each_names_its_package():
    assert sorted(_runner_module().RUNTIMES) == sorted(runtime_names())
    for name, r in RUNTIMES.items():
        assert _backend_package(name) == r.package


def test_per_runtime_code_covers_exactly_the_catalogue():
    from workbench.runtime_model import PREDICT, PREDICT_ALL
    from workbench.runtimes import PRODUCERS

    assert set(PREDICT) == set(PREDICT_ALL) == set(runtime_names())  # every output on every runtime
    assert {r.file_format for r in RUNTIMES.values()} - {".tflite"} == set(PRODUCERS)
    assert FORMATS == {name: r.formats for name, r in RUNTIMES.items()}


def test_versions_logged_for_every_runtime():
    from workbench.provenance import PACKAGES

    assert {r.package for r in RUNTIMES.values()} <= set(PACKAGES.values())


def test_cli_choices_and_help_derive_from_the_catalogue():
    from workbench.cli import profile

    params = {p.name: p for p in profile.params}
    runtime_opt, accel_opt = params["runtime"], params["accelerator"]
    assert isinstance(runtime_opt.type, click.Choice) and isinstance(accel_opt.type, click.Choice)
    assert tuple(runtime_opt.type.choices) == runtime_names()
    assert tuple(accel_opt.type.choices) == accelerators()
    for r in RUNTIMES.values():
        assert f"{r.name} runs {r.file_format}" in (runtime_opt.help or "")
        assert r.package in (params["remote_python"].help or "")


def test_target_spec_names_the_catalogue_in_its_errors():
    from workbench.spec import TargetSpec

    with pytest.raises(ValidationError, match="unknown runtime 'tvm'; known: " + ", ".join(runtime_names())):
        TargetSpec(runtime="tvm")
    for name, r in RUNTIMES.items():  # every runtime accepts each of its accelerators (LiteRT via compiled_model)
        for acc in r.accelerators:
            api = "compiled_model" if name == "litert" and acc != "cpu" else "interpreter"
            assert TargetSpec(runtime=name, accelerator=acc, api=api).accelerator == acc
        refused = [a for a in accelerators() if a not in r.accelerators]
        for acc in refused:
            with pytest.raises(ValidationError, match=f"accelerator '{acc}' is not one of {name}'s"):
                TargetSpec(runtime=name, accelerator=acc)
