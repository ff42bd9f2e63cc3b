"""Regression rules of the nightly comparison (pure)."""

import pytest

from workbench.analysis.regressions import Comparison, comparison_line, regressions_between
from workbench.profile.stats import ratio_of_rounds
from workbench.spec import RegressionSpec

RULES = RegressionSpec(max_accuracy_drop_pts=0.5, min_latency_rise=0.05, max_size_change=0.0)
BASE = {"accuracy": 0.98, "latency_ms_p50": 1.0, "latency_ms_p50_ci_low": 0.99, "latency_ms_p50_ci_high": 1.01,
        "size_bytes": 1000.0}


def test_identical_metrics_have_no_regression():
    assert regressions_between(dict(BASE), dict(BASE), RULES) == []


def test_accuracy_drop_beyond_threshold():
    found = regressions_between({**BASE, "accuracy": 0.97}, BASE, RULES)
    assert len(found) == 1 and "accuracy down 1.00 points" in found[0]
    assert regressions_between({**BASE, "accuracy": 0.976}, BASE, RULES) == []


def test_latency_is_judged_only_side_by_side():
    far_apart = {**BASE, "latency_ms_p50": 2.0, "latency_ms_p50_ci_low": 1.99, "latency_ms_p50_ci_high": 2.01}
    assert regressions_between(far_apart, BASE, RULES) == []  # two p50s a day apart: not a measurement
    within_noise = ratio_of_rounds([1.0, 1.1, 0.9, 1.0, 1.05], [1.05, 1.0, 1.0, 1.1, 1.0])
    assert regressions_between(dict(BASE), BASE, RULES, within_noise) == []
    slower = ratio_of_rounds([1.0, 1.0, 1.01, 0.99, 1.0], [1.2, 1.21, 1.2, 1.19, 1.2])  # tonight 20% slower
    found = regressions_between(dict(BASE), BASE, RULES, slower)
    assert len(found) == 1 and found[0].startswith("latency p50 up 20.0% against last night's file measured side by side")
    small = ratio_of_rounds([1.0] * 5, [1.03] * 5)  # 3% slower, under the 5% floor
    assert regressions_between(dict(BASE), BASE, RULES, small) == []


def test_comparison_line_says_what_was_compared():
    c = Comparison("20261129T023000Z-abc123", "2026-11-29 02:30", 4, compared=["float32", "int8", "int8_io"],
                   unmatched=["dynamic"], same_file=["float32"], remeasured=["int8"],
                   not_remeasured={"int8_io": "last night's file could not be fetched (MlflowException)"},
                   regressions=[{"variant": "int8", "what": "latency p50 up 20.0%"}])
    line = comparison_line(c)
    assert line.startswith("compared 3 of 4 variants with sweep 20261129T023000Z-abc123 (started 2026-11-29 02:30): "
                           "1 regression; no match last night: dynamic; same file as last night, latency a tie: "
                           "float32")
    assert "latency NOT compared (int8_io: last night's file could not be fetched" in line
    assert not c.matched_nothing


def test_matching_nothing_is_a_loud_warning():
    c = Comparison("20261129T023000Z-abc123", "2026-11-29 02:30", 2, unmatched=["float32", "int8"])
    assert c.matched_nothing
    assert comparison_line(c).startswith("WARNING: compared 0 of 2 variants with sweep 20261129T023000Z-abc123 "
                                         "(started 2026-11-29 02:30): 0 regressions: no variant id matched")
    first_night = Comparison("", "", 2)
    assert not first_night.matched_nothing
    assert comparison_line(first_night) == "compared 0 of 2 variants: no previous successful sweep to compare with"


@pytest.mark.parametrize("failed,regressions,nothing,code", [(True, True, True, 1), (False, True, False, 3),
                                                              (False, False, True, 4), (False, False, False, 0)])
def test_sweep_exit_status_for_a_comparison_that_matched_nothing(failed, regressions, nothing, code):
    from workbench.run.sweep import SweepResult

    r = SweepResult("e", "1", "s", "p", "", rows=[{"status": "FAILED"}] if failed else [],
                    regressions=[{"variant": "x", "what": "y"}] if regressions else [], compared_nothing=nothing)
    assert r.exit_code == code


def test_size_change_reported():
    found = regressions_between({**BASE, "size_bytes": 1010.0}, BASE, RULES)
    assert found == ["size changed +1.00% (1000 -> 1010 bytes)"]


def test_compare_rows_remeasures_a_changed_file_and_trusts_the_same_one():
    from workbench.run.compare import compare_rows
    from workbench.tracking.records import RunRecord, RunStatus

    def run(run_id, sha, p50):
        return RunRecord(run_id=run_id, experiment_id="1", name=run_id, status=RunStatus.FINISHED, start_time=0,
                         end_time=None, tags={"workbench.model_sha256": sha}, metrics={**BASE, "latency_ms_p50": p50})

    rows = [{"variant": v, "variant_id": f"id-{v}", "status": "FINISHED", "run_id": f"now-{v}", "model_sha256": sha,
             **BASE} for v, sha in (("float32", "aaa"), ("int8", "bbb"), ("int8_io", "ccc"), ("new", "ddd"))]
    previous = {"id-float32": run("old-float32", "aaa", 0.5), "id-int8": run("old-int8", "xxx", 1.0),
                "id-int8_io": run("old-int8_io", "yyy", 1.0)}
    asked = []

    def remeasure(current, prev):
        asked.append((current, prev))
        return ratio_of_rounds([1.0] * 5, [1.3, 1.31, 1.29, 1.3, 1.3]) if current == "now-int8" else "purged"

    comp, table = compare_rows(rows, previous, "S", "2026-11-29 02:30", RULES, remeasure)
    assert asked == [("now-int8", "old-int8"), ("now-int8_io", "old-int8_io")]  # same file: nothing re-measured
    assert comp.compared == ["float32", "int8", "int8_io"] and comp.unmatched == ["new"]
    assert comp.same_file == ["float32"] and comp.remeasured == ["int8"] and comp.not_remeasured == {"int8_io": "purged"}
    assert [r["variant"] for r in comp.regressions] == ["int8"]  # float32's 0.5 -> 1.0 ms a day apart: not called
    assert table[1]["side_by_side"]["previous_over_current"] == pytest.approx(1 / 1.3)
