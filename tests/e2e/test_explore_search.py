"""The explorer notebook headless, the sensitivity notebook, and the accuracy-budget search."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, write_experiment

if TYPE_CHECKING:
    import nbformat  # imported in the tests: it costs 2 s of CPU (jsonschema's format checkers), also when deselected

pytestmark = pytest.mark.slow


def _papermill(nb: str | Path, out, cwd, *params: str) -> nbformat.NotebookNode:
    import nbformat

    proc = subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / nb), str(out), "--cwd",
                           str(cwd), *params], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return nbformat.read(out, as_version=4)


def test_explorer_gains_a_highlighted_point(project):
    import nbformat

    write_experiment(project)
    # the shipped notebook stops at the widget (a user presses run); this test-only copy presses it headless
    shipped = nbformat.read(REPO / "notebooks" / "explore.ipynb", as_version=4)
    shipped.cells += [nbformat.v4.new_code_cell(s) for s in (
        "points_before = explorer.point_count()",
        "summary = explorer.run()",
        "{'points_before': points_before, 'points_after': explorer.point_count(), 'highlighted': explorer.highlighted()}",
    )]
    driven = project / "explore_driven.ipynb"
    nbformat.write(shipped, driven)
    nb = _papermill(driven, project / "e.ipynb", project, "-r", "experiment", "experiments/tiny.yaml",
                    "-r", "technique", "prune", "-p", "sparsity", "0.6")
    counts = ast.literal_eval(nb.cells[-1].outputs[0]["data"]["text/plain"])
    assert counts["points_after"] == counts["points_before"] + 1
    assert counts["highlighted"] == 1


def test_sensitivity_notebook_tables(project):
    write_experiment(project)
    nb = _papermill("sensitivity.ipynb", project / "s.ipynb", project, "-r", "experiment", "experiments/tiny.yaml",
                    "-p", "samples", "16")
    text = "".join(o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", []))
    assert "rmse_over_scale" in text and "fc1" in text and "sparsity" in text
    assert "int4_weights_snr_db" in text  # the LiteRT Quantizer's per-layer SNR beside the int8 ranking


def test_search_stops_when_the_goal_is_met(project):
    from workbench.run.search import run_search
    from workbench.tracking import Tracker

    write_experiment(project, name="srch", extra=textwrap.dedent("""\
        search:
          max_accuracy_drop: 5.0
          goal_compression_ratio_gzip: 2.0
          max_trials: 3
          space:
            - {quantization: [int8, float16]}
        """))
    r = run_search("experiments/srch.yaml", progress=False)
    assert len(r.trials) == 1 and r.stopped_by.startswith("goal met")
    assert r.best is not None and r.best["compression_ratio_gzip"] >= 2.0
    tr = Tracker(root=project)
    trial_run = tr.get_run(r.trials[0]["run_id"])
    assert trial_run.status == "FINISHED" and trial_run.tags["workbench.kind"] == "variant"
    assert tr.get_run(r.parent_run_id).tags["workbench.stopped_by"] == r.stopped_by
