"""Notebooks as a JupyterLab user meets them: metadata equal to the kernel `make venv` installs (so a notebook
opens unmodified), relative paths resolved against the project root wherever the kernel starts, and an
explorer whose controls cover every technique and show only the knobs that apply. No TensorFlow here."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_experiment
from workbench.paths import ENV_ROOT, project_root, resolve
from workbench.spec.steps import TECHNIQUES as STEP_TECHNIQUES
from workbench.views.explorer import KNOBS, TECHNIQUES, Knobs, latest_points, variant_for

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _installed_kernel() -> tuple[str, str]:
    """(name, display name) of the kernelspec the Makefile's venv step installs."""
    m = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', (REPO / "Makefile").read_text())
    assert m, "the Makefile no longer installs a kernelspec"
    return m.group(1), m.group(2)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_metadata_is_the_installed_kernel(path: Path) -> None:
    meta = json.loads(path.read_text())["metadata"]
    name, display = _installed_kernel()
    assert meta["kernelspec"] == {"name": name, "display_name": display, "language": "python"}
    info = meta["language_info"]  # JupyterLab rewrites it (and marks the notebook modified) when it differs
    assert info["name"] == "python" and info["pygments_lexer"] == "ipython3"
    assert info["version"].split(".")[:2] == [str(v) for v in sys.version_info[:2]]


def _tracked_notebooks() -> list[Path]:
    """Every notebook git tracks (the glob of notebooks/ and workbench/notebooks/ outside a git checkout)."""
    import subprocess

    proc = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return sorted(REPO / p for p in proc.stdout.split())
    return sorted({*NOTEBOOKS, *(REPO / "workbench" / "notebooks").glob("*.ipynb")})


TRACKED = _tracked_notebooks()


def test_the_shipped_notebooks_are_tracked() -> None:
    names = {str(p.relative_to(REPO)) for p in TRACKED}
    assert {"notebooks/explore.ipynb", "notebooks/sensitivity.ipynb", "workbench/notebooks/variant.ipynb"} <= names


@pytest.mark.parametrize("path", TRACKED, ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_are_kept_without_outputs(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
             and (c.get("outputs", []) != [] or c.get("execution_count") is not None)]
    assert dirty == [], f"{path.relative_to(REPO)}: cells {dirty} hold outputs; run `make strip-notebooks`"


def _with_outputs(path: Path) -> dict[str, Any]:
    nb = json.loads(path.read_text())
    for i, c in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        c["execution_count"] = i + 1
        c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1,929 lines of tables\n"]}]
    return nb


def test_jupyterlab_saves_notebooks_folders_without_outputs(tmp_path: Path) -> None:
    """``make lab``'s pre-save hook: what JupyterLab saves in a notebooks/ folder is the notebook as shipped."""
    from jupyter_server.utils import import_item

    from workbench.notebook_files import strip_on_save

    hook = re.search(r"--ContentsManager\.pre_save_hook=(\S+)", (REPO / "Makefile").read_text())
    assert hook and import_item(hook.group(1)) is strip_on_save  # what make lab passes resolves to it
    shipped = json.loads((REPO / "notebooks" / "sensitivity.ipynb").read_text())
    (tmp_path / "notebooks").mkdir()
    manager = type("Contents", (), {"root_dir": str(tmp_path)})()
    model = {"type": "notebook", "content": _with_outputs(REPO / "notebooks" / "sensitivity.ipynb")}
    strip_on_save(model=model, path="notebooks/sensitivity.ipynb", contents_manager=manager)
    assert model["content"] == shipped
    elsewhere = {"type": "notebook", "content": _with_outputs(REPO / "notebooks" / "sensitivity.ipynb")}
    strip_on_save(model=elsewhere, path="my-analysis.ipynb", contents_manager=manager)  # a user's own copy
    assert elsewhere["content"] != shipped


def test_make_strip_notebooks_restores_the_shipped_bytes(tmp_path: Path) -> None:
    from workbench.notebook_files import strip_files

    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(_with_outputs(REPO / "notebooks" / "explore.ipynb")))
    assert strip_files([str(path)]) == [str(path)]
    assert path.read_text() == (REPO / "notebooks" / "explore.ipynb").read_text()
    assert strip_files([str(path)]) == []  # nothing left to strip: the file is not rewritten


def test_project_root_from_notebooks_root_env_and_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_ROOT, raising=False)
    project = tmp_path / "proj"
    write_experiment(project)
    (project / "notebooks").mkdir()
    assert project_root(project / "notebooks") == project  # JupyterLab starts the kernel here
    assert project_root(project) == project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert project_root(elsewhere) == REPO  # no project above: the checkout the package runs from
    monkeypatch.setenv(ENV_ROOT, str(project))
    assert project_root(elsewhere) == project


def test_resolve_prefers_the_root_and_accepts_paths_typed_from_the_cwd(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    exp = write_experiment(project)
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")
    assert resolve("experiments/tiny.yaml", project) == exp
    assert resolve("../experiments/tiny.yaml", project) == exp  # exists only from the working directory
    assert resolve(".workbench", project) == project / ".workbench"  # not there yet: under the root
    assert resolve(exp, tmp_path / "other") == exp


def test_explorer_offers_every_technique_with_its_own_knobs() -> None:
    from workbench.spec import BaselineSpec

    baseline = BaselineSpec(model="digits_cnn", model_args={"width": 0.5, "dense": 32}, dataset="digits")
    used: set[str] = set()
    for technique in TECHNIQUES:
        v = variant_for(Knobs(technique=technique, quantization="float16"), baseline)
        used |= {s.technique for s in v.steps}
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", v.name)
        if technique in ("qat", "prune+cluster+qat", "keep_float"):
            assert v.quantization == "int8"  # these export full-integer only
        else:
            assert v.quantization == "float16"
    assert used == set(STEP_TECHNIQUES)  # prune, 2:4, cluster, qat, distill, lowrank
    assert variant_for(Knobs(technique="keep_float", keep_float=2), baseline).keep_float == 2
    assert variant_for(Knobs(technique="prune", sparsity=0.65), baseline).steps[0].sparsity == pytest.approx(0.65)
    chain = variant_for(Knobs(technique="prune+cluster+qat", sparsity=0.7, clusters=4), baseline)
    assert [s.technique for s in chain.steps] == ["prune", "cluster", "qat"] and chain.steps[1].clusters == 4
    student = variant_for(Knobs(technique="distill", student_width=0.25), baseline).steps[0]
    assert student.student_args == {"width": 0.125, "dense": 8}
    assert variant_for(Knobs(technique="lowrank", rank=8), baseline).steps[0].rank == 8
    assert set(KNOBS) == set(TECHNIQUES)
    with pytest.raises(ValueError, match="unknown technique"):
        variant_for(Knobs(technique="magic"), baseline)


def _run(run_id: str, vid: str, acc: float, origin: str = "sweep") -> Any:
    from workbench.tracking import RunRecord, RunStatus

    return RunRecord(run_id, "1", vid, RunStatus.FINISHED, 0, None, metrics={"accuracy": acc, "latency_ms_p50": 0.1},
                     tags={"workbench.variant_id": vid, "workbench.origin": origin})


def test_figure_points_are_the_newest_run_of_each_variant() -> None:
    runs = [_run("r3", "a", 0.9, "adhoc"), _run("r2", "b", 0.8), _run("r1", "a", 0.7)]  # newest first
    points = latest_points(runs)
    assert [(p.run_id, p.origin) for p in points] == [("r3", "adhoc"), ("r2", "sweep")]


def test_explorer_shows_only_the_knobs_of_the_chosen_technique(tmp_path: Path) -> None:
    from workbench.views.explorer import Explorer

    write_experiment(tmp_path, extra="budgets: {max_accuracy_drop: 1.0, max_latency_ms: 2}\n")
    ex = Explorer("experiments/tiny.yaml", root=tmp_path)
    assert ex.point_count() == 0 and "no variant" in ex.status.value
    knobs = ("sparsity", "clusters", "rank", "keep_float", "student_width", "temperature", "alpha")
    for technique, shown in KNOBS.items():
        ex.set_controls(technique=technique)
        assert {k for k in knobs if getattr(ex, k).layout.display != "none"} == set(shown), technique
        assert ex.quantization.layout.display != "none" and ex.threads.layout.display != "none"
    ex.set_controls(technique="keep_float")
    assert list(ex.quantization.options) == ["int8", "int8_io"]
    ex.set_controls(technique="prune", sparsity=0.8, quantization="dynamic")
    assert ex.variant().quantization == "dynamic" and ex.variant().steps[0].sparsity == pytest.approx(0.8)
    assert ex.figure.layout.xaxis.type == "log"
    ex.log_x.value = False
    assert ex.figure.layout.xaxis.type == "linear"
    with pytest.raises(ValueError, match="unknown control"):
        ex.set_controls(epochs=3)
    assert (tmp_path / "mlflow.db").exists()  # the embedded store read is the project root's
