"""The architecture stays as the tree shows it: floors without circles or uphill imports, one module per
outside concern (Keras, MLflow), no TensorFlow in the supervising process, a public API that keeps its names."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests import architecture as arch
from tests.conftest import REPO


def test_every_module_sits_on_a_floor():
    for m in arch.modules():
        arch.floor(m)  # KeyError names a module nobody placed


def test_no_circles_and_no_uphill_imports():
    g = arch.graph()
    assert arch.cycles(g) == []
    assert arch.uphill(g) == []


def test_the_checker_sees_circles_and_uphill_imports():
    g = {"workbench.spec.a": {"workbench.run.sweep"}, "workbench.run.sweep": {"workbench.spec.a"}}
    assert arch.cycles(g) == [["workbench.run.sweep", "workbench.spec.a"]]
    assert arch.uphill(g) == [("workbench.spec.a", "workbench.run.sweep")]


def test_function_level_imports_count(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from workbench.run import sweep\n    import workbench.views.dashboard\n")
    assert arch.imported_names(src) == ["workbench.run.sweep", "workbench.views.dashboard"]


@pytest.mark.parametrize("outside, owner", [
    (("mlflow",), "workbench.tracking"),
    (("tf_keras", "tensorflow", "tensorflow_model_optimization", "keras"), "workbench._keras"),
    # the LiteRT Quantizer imports no TensorFlow (checked below), but its recipes are one concern: one module
    (("litert_quantizer", "ai_edge_quantizer"), "workbench.convert.quantizer"),
    (("optuna",), "workbench.run.precision"),  # the precision search's optimiser
    # Model Explorer's server is started (with its release check answered locally) in one place
    (("model_explorer", "ai_edge_model_explorer_adapter"), "workbench.views.model_explorer_app"),
])
def test_one_module_owns_each_outside_library(outside, owner):
    offenders = [m for m, path in arch.modules().items() if m != owner and not m.startswith(owner + ".")
                 and any(n.split(".")[0] in outside for n in arch.imported_names(path))]
    assert offenders == []


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_importing_planning_and_validating_import_no_tensorflow():
    proc = _fresh_python("""
        import sys
        from pathlib import Path
        import workbench
        from workbench.run import compare, executors, search, sweep, task  # the supervising process
        from workbench.views import dashboard
        from click.testing import CliRunner
        from workbench.cli import main
        r = CliRunner().invoke(main, ["validate", "--ids", "experiments/digits_quick.yaml"])
        assert r.exit_code == 0, r.output
        plan = sweep.plan_experiment("experiments/nightly.yaml", Path.cwd())
        assert len(plan.variants) > 10
        heavy = sorted(m for m in ("tensorflow", "tf_keras", "tensorflow_model_optimization") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout


def test_the_litert_quantizer_runs_without_tensorflow():
    """``workbench quantize`` runs in the supervising process: quantizing a .tflite must load no TensorFlow."""
    proc = _fresh_python("""
        import sys
        from workbench.convert.quantizer import quantize_tflite
        from tests.unit.tiny_tflite import dense_tflite
        q = quantize_tflite(dense_tflite(), "int4_weights")
        assert len(q) > 0
        heavy = sorted(m for m in ("tensorflow", "tf_keras", "tensorflow_model_optimization") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout


def test_public_api_names_are_stable_and_typed():
    proc = _fresh_python("""
        import inspect, types
        import workbench as wb
        import workbench.profile.stats  # importing a subpackage must not change what wb.profile_model is
        assert callable(wb.profile_model) and not isinstance(wb.profile_model, types.ModuleType)
        assert isinstance(wb.profile, types.ModuleType)
        assert set(wb.__all__) <= set(dir(wb))
        assert "plan" in inspect.signature(wb.prepare_variant).parameters
        print("OK")
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK" in proc.stdout


def test_type_checking_imports_cover_the_public_api():
    src = (REPO / "workbench" / "__init__.py").read_text()
    import workbench

    block = src.split("if TYPE_CHECKING:")[1].split("\ndef ")[0]
    missing = [n for n in workbench.__all__ if n not in block]
    assert missing == []


def test_notebook_declares_every_parameter_the_sweep_passes(tmp_path):
    import papermill

    from workbench.run.task import VariantTask, papermill_parameters

    task = VariantTask(plan_json="{}", variant_id="x", experiment_id="1", parent_run_id="p", sweep_id="s",
                       tracking_uri="sqlite:///x.db", work_dir=".wb", root=".", output_dir=str(tmp_path), timeout_s=1)
    passed = set(papermill_parameters(task, tmp_path / "plan.json", "run"))
    for nb in ("notebooks/variant.ipynb", "tests/data/faulty_variant.ipynb"):
        declared = set(papermill.inspect_notebook(str(REPO / nb)))
        assert passed <= declared, f"{nb} lacks {passed - declared}"


def test_the_sweep_runs_papermill_without_the_iri_grammar(tmp_path):
    """A variant's papermill process (``papermill_main``) skips jsonschema's optional rfc3987_syntax (1.7 s of CPU
    per variant) and still validates and executes a notebook with papermill's own command line."""
    import subprocess
    import sys

    from workbench.run.task import VariantTask, papermill_command

    task = VariantTask(plan_json="{}", variant_id="x", experiment_id="1", parent_run_id="p", sweep_id="s",
                       tracking_uri="sqlite:///x.db", work_dir=".wb", root=".", output_dir=str(tmp_path), timeout_s=1)
    cmd = papermill_command(task, tmp_path / "out.ipynb", tmp_path / "plan.json", "run")
    assert cmd[1:3] == ["-m", "workbench.run.papermill_main"]
    code = ("import sys, runpy; sys.argv = ['papermill', '--help']\n"
            "try:\n    runpy.run_module('workbench.run.papermill_main', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "import nbformat; nbformat.validate(nbformat.v4.new_notebook())\n"
            "print(sys.modules.get('rfc3987_syntax', 'absent'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Usage: papermill" in out.stdout, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "None"


def test_the_sweep_finds_its_notebook():
    from workbench.run.task import NOTEBOOK

    assert NOTEBOOK == REPO / "workbench" / "notebooks" / "variant.ipynb" and NOTEBOOK.is_file()  # package data
    assert (REPO / "notebooks" / "variant.ipynb").resolve() == NOTEBOOK  # the checkout's copy is a link to it
