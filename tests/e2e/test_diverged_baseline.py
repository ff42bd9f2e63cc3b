"""A float baseline that is unusable (here: a model file whose weights are NaN) stops the very first sweep after the
variant that found it: one line, exit 2, no other variant started, nothing left RUNNING, no report or cache."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST_TARGET
from tests.e2e.test_sweep import cli, runs_of

pytestmark = pytest.mark.slow


def _nan_project(root: Path) -> str:
    from workbench._keras import keras

    model = keras.Sequential([keras.layers.Input((8,)), keras.layers.Dense(3, name="out")])
    kernel, bias = model.layers[-1].get_weights()
    kernel[:] = np.nan
    model.layers[-1].set_weights([kernel, bias])
    (root / "models").mkdir()
    model.save(root / "models" / "nan.keras")
    rng = np.random.default_rng(0)
    np.savez(root / "d.npz", x_train=rng.normal(size=(48, 8)), y_train=np.arange(48) % 3,
             x_test=rng.normal(size=(16, 8)), y_test=np.arange(16) % 3)
    (root / "experiments").mkdir()
    (root / "experiments" / "nan.yaml").write_text(textwrap.dedent("""\
        name: nan
        baseline: {model: models/nan.keras, dataset: d.npz}
        calibration_samples: 16
        rounds: 1
        """) + FAST_TARGET + textwrap.dedent("""\
        variants:
          - {name: float32, quantization: float32}
          - {name: int8, quantization: int8}
          - {name: dynamic, quantization: dynamic}
        """))
    return "experiments/nan.yaml"


def test_nan_weights_stop_the_first_sweep_before_its_other_variants(project: Path) -> None:
    path = _nan_project(project)
    proc = cli("run", path, "--workers", "1", "--no-progress", cwd=project, timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model file models/nan.keras: weight ") and "NaN" in lines[0], lines
    tr, runs = runs_of(project, "nan")
    children = [r for r in runs if r.tags.get("workbench.kind") == "variant"]
    parent = next(r for r in runs if r.tags.get("workbench.kind") == "sweep")
    assert [r.status for r in children] == ["FAILED"]  # the variant that found it; the other two never started
    assert "holds NaN or Inf" in children[0].failure
    assert parent.status == "KILLED" and "holds NaN or Inf" in parent.failure
    assert "dashboard.html" not in {a.path for a in tr.list_artifacts(parent.run_id)}  # no report of nothing
    baselines = project / ".workbench" / "baselines"
    assert not list(baselines.glob("*/baseline.json")) and len(list(baselines.glob(".refused-*.txt"))) == 1

    again = cli("run", path, "--no-progress", cwd=project, timeout=120)  # refused at planning, from the record
    assert again.returncode == 2 and again.stderr.strip() == lines[0]
    assert len(runs_of(project, "nan")[1]) == len(runs)  # no run created
