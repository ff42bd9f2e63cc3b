"""What a settling sweep decides over: the experiment's newest finished result of each of its variants, from any
sweep, when it ended after this sweep started; never over a failure of its own (issue 20)."""

from __future__ import annotations

from typing import Any

from workbench.run.settle import experiment_results
from workbench.tracking import RunRecord, RunStatus


def _run(run_id: str, vid: str, end_ms: int, accuracy: float) -> RunRecord:
    return RunRecord(run_id, "1", vid, RunStatus.FINISHED, end_ms - 10, end_ms,
                     tags={"workbench.sweep_id": f"sweep-of-{run_id}"}, metrics={"accuracy": accuracy})


class Store:
    def __init__(self, newest: dict[str, RunRecord]) -> None:
        self.newest = newest

    def decision_basis(self, experiment_id: str, variant_ids: Any) -> dict[str, RunRecord]:
        return {v: self.newest[v] for v in variant_ids if v in self.newest}


def _row(name: str, status: str, run_id: str = "", **metrics: float) -> dict[str, Any]:
    return {"variant": name, "variant_id": name, "technique": "ptq", "status": status, "reason": "",
            "run_id": run_id, **metrics}


def test_the_decision_reads_what_other_sweeps_finished_since_this_one_started() -> None:
    store = Store({"held": _run("r-held", "held", 2000, 0.99), "mine": _run("r-mine", "mine", 1500, 0.5),
                   "old": _run("r-old", "old", 500, 0.97), "failed": _run("r-f", "failed", 2500, 0.98),
                   "again": _run("r-again", "again", 1800, 0.7)})
    rows = [_row("held", "ELSEWHERE"), _row("mine", "FINISHED", "r-mine", accuracy=0.5),
            _row("old", "ELSEWHERE"), _row("failed", "FAILED", "r-mine-failed"),
            _row("again", "SKIPPED", "r-before", accuracy=0.6)]
    out, basis = experiment_results(store, "1", rows, since_ms=1000)  # type: ignore[arg-type]
    by = {r["variant"]: r for r in out}
    assert by["held"]["status"] == "SKIPPED" and by["held"]["accuracy"] == 0.99  # the other sweep's result
    assert by["held"]["reason"] == "measured in run r-held of sweep sweep-of-r-held"
    assert by["mine"] is rows[1]  # its own result is the newest
    assert by["old"] is rows[2]  # ended before this sweep started: not tonight's result
    assert by["failed"] is rows[3]  # a failure here is this variant's newest word
    assert by["again"]["run_id"] == "r-again" and by["again"]["accuracy"] == 0.7  # measured again since
    assert basis == {"held": "r-held", "again": "r-again"}
