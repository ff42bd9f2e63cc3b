"""The plan is the single truth of a sweep: editing the experiment file mid-sweep changes nothing it runs,
and data that no longer match the plan are refused before any training."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import write_experiment

pytestmark = pytest.mark.slow

VARIANTS = """\
variants:
  - {name: float32, quantization: float32}
  - {name: int8, quantization: int8}
  - {name: late, quantization: dynamic}
"""


def test_editing_the_yaml_during_a_sweep_changes_nothing_it_runs(project):
    from workbench.tracking import Tracker

    path = write_experiment(project, name="edited", variants=VARIANTS, epochs=3)
    original = path.read_text()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", str(path), "--workers", "1",
                             "--no-progress"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    plans = []
    while not plans and time.monotonic() < deadline and proc.poll() is None:
        plans = list((project / ".workbench" / "sweeps").glob("*/plan.json"))
        time.sleep(0.05)
    assert plans, "the sweep wrote no plan"
    planned = json.loads(plans[0].read_text())
    # now, mid-sweep, change everything a notebook re-reading the YAML would pick up
    edited = (original.replace("late, quantization: dynamic", "late, quantization: float16")
              .replace("threads: 1", "threads: 2").replace("calibration_samples: 50", "calibration_samples: 7")
              .replace("epochs: 3", "epochs: 1"))
    assert edited != original
    path.write_text(edited)
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:]

    tr = Tracker(root=project)
    exp = tr.experiment("edited")
    runs = {r.tags["workbench.variant"]: r for r in tr.runs(exp.experiment_id)
            if r.tags.get("workbench.kind") == "variant"}
    by_name = {v["spec"]["name"]: v for v in planned["variants"]}
    assert set(runs) == set(by_name) == {"float32", "int8", "late"}
    for name, run in runs.items():
        assert run.status == "FINISHED"
        assert run.tags["workbench.variant_id"] == by_name[name]["id"]  # labelled as planned ...
        p = run.params  # ... and computed as planned
        assert p["variant.quantization"] == by_name[name]["spec"]["quantization"]
        assert p["target.threads"] == "1" and p["profile.threads"] == "1"
        assert p["variant.calibration_samples"] == "50" and p["baseline.training.epochs"] == "3"
    assert runs["late"].params["variant.quantization"] == "dynamic"
    # the next sweep plans the edited file: new ids for what changed, nothing silently reused
    from workbench.run.sweep import plan_experiment

    replanned = {v.name: v.id for v in plan_experiment(path, project).variants}
    assert all(replanned[n] != by_name[n]["id"] for n in replanned)


def test_data_that_changed_since_planning_are_refused_before_training(project):
    from workbench.errors import DataError
    from workbench.pipeline import prepare_variant
    from workbench.run.sweep import plan_experiment

    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.random((40, 4, 4, 1), dtype=np.float32), "y_train": np.arange(40) % 3,
              "x_test": rng.random((12, 4, 4, 1), dtype=np.float32), "y_test": np.arange(12) % 3}
    np.savez(project / "data.npz", **arrays)
    write_experiment(project, name="npz")
    exp = project / "experiments" / "npz.yaml"
    exp.write_text(exp.read_text().replace("dataset: digits", "dataset: data.npz"))
    plan = plan_experiment(exp, project)
    plan_path = project / "plan.json"
    plan_path.write_text(plan.to_json())
    arrays["x_test"][0, 0, 0, 0] += 1.0
    np.savez(project / "data.npz", **arrays)
    with pytest.raises(DataError, match="changed since the sweep planned it"):
        prepare_variant(plan=plan_path, variant_id=plan.variants[0].id, work_dir=project / ".wb", root=project,
                        track=False)
    assert not (project / ".wb" / "baselines").exists()  # refused before any training
