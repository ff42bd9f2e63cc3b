"""--compare-to previous: regressions are found, logged on the parent run, and give exit status 3."""

from __future__ import annotations

import time

import pytest

from tests.conftest import write_experiment

pytestmark = pytest.mark.slow


def test_compare_to_previous_flags_a_drop_then_warns_when_nothing_matches(project):
    """One project, three nights (one baseline trained for all): the first has nothing to compare with, the
    second finds int8 worse than the first, the third changes every variant id so nothing can be matched."""
    from workbench.run.sweep import EXIT_NOTHING_COMPARED, EXIT_REGRESSIONS, run_sweep
    from workbench.tracking import Tracker

    rules = "regression: {min_latency_rise: 10.0, max_size_change: 0.5}\n"
    write_experiment(project, name="nightly", extra=rules)
    first = run_sweep("experiments/nightly.yaml", progress=False, compare_to="previous")
    assert first.exit_code == 0 and first.regressions == []
    assert first.comparison == "compared 0 of 2 variants: no previous successful sweep to compare with"
    tr = Tracker(root=project)
    int8_prev = next(r for r in first.rows if r["variant"] == "int8")
    tr.log(int8_prev["run_id"], metrics={"accuracy": 1.0})  # pretend last night was perfect

    time.sleep(2)  # so that --since 1s excludes last "night"
    second = run_sweep("experiments/nightly.yaml", progress=False, compare_to="previous", since_s=1)
    assert [r["status"] for r in second.rows] == ["FINISHED", "FINISHED"]  # --since 1s re-measures
    assert [r["variant"] for r in second.regressions] == ["int8"]
    assert "accuracy down" in second.regressions[0]["what"]
    assert second.exit_code == EXIT_REGRESSIONS
    parent = tr.get_run(second.parent_run_id)
    assert parent.tags["workbench.regressions"] == "1"
    assert parent.tags["workbench.compared_to"] == first.sweep_id

    # a change that alters every variant id (as a new calibration_samples does): nothing can be matched
    write_experiment(project, name="nightly", extra=rules, variants="variants:\n"
                     "  - {name: float32, quantization: float32, calibration_samples: 40}\n"
                     "  - {name: int8, quantization: int8, calibration_samples: 40}\n")
    third = run_sweep("experiments/nightly.yaml", progress=False, compare_to="previous")
    assert [r["status"] for r in third.rows] == ["FINISHED", "FINISHED"]
    assert third.comparison.startswith("WARNING: compared 0 of 2 variants with sweep ")
    assert "no variant id matched" in third.comparison
    assert third.exit_code == EXIT_NOTHING_COMPARED == 4
    tags = tr.get_run(third.parent_run_id).tags
    assert tags["workbench.compared_to"] in (first.sweep_id, second.sweep_id)
    assert f"with sweep {tags['workbench.compared_to']} (started " in third.comparison
    assert tags["workbench.comparison"] == third.comparison
