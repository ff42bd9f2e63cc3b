"""Supervision on typed statuses: a stop carries its reason from where it happens to where it is settled."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from workbench.run.signals import Interrupted, reason_of
from workbench.run.status import Outcome, Stop, StopReason, VariantStatus


def test_the_reason_of_an_ending_is_typed_and_keeps_its_words():
    assert reason_of(Interrupted(signal.SIGTERM)) == Stop(StopReason.SIGNAL, "interrupted by SIGTERM")
    assert reason_of(KeyboardInterrupt()).reason == StopReason.SIGNAL
    bug = reason_of(ValueError("bad\nsecond line"))
    assert bug.reason == StopReason.ERROR and bug.text == "sweep stopped: ValueError: bad"
    lost = Stop.tracking_lost("http://x unreachable")
    assert (lost.reason, lost.text, lost.detail) == (StopReason.TRACKING_LOST, "tracking store lost: http://x "
                                                     "unreachable", "http://x unreachable")


def test_statuses_read_as_the_words_summary_json_always_held():
    o = Outcome("int8", "v", VariantStatus.FINISHED, "", "r", 1.0)
    assert o.status == "FINISHED" and json.loads(json.dumps(o.to_dict()))["status"] == "FINISHED"


def test_a_stop_is_settled_by_its_reason_not_by_its_wording(tmp_path: Path):
    """A lost store is LOST and a run settled elsewhere is KILLED, both without asking the store again."""
    from workbench.run.task import _settle_stopped

    def outcome(status: VariantStatus, reason: str, run_id: str = "", stop: Stop | None = None) -> Outcome:
        return Outcome("v", "vid", status, reason, run_id, 0.0, stop)

    class NoStore:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the store was asked: {name}")

    lost = Stop(StopReason.TRACKING_LOST, "its sweep ended (the words do not matter)", "gone")
    o = _settle_stopped(NoStore(), "r", tmp_path / "nb", tmp_path / "log", lost, outcome)  # type: ignore[arg-type]
    assert o.status == VariantStatus.LOST and o.stop == lost
    settled = Stop(StopReason.RUN_SETTLED, "tracking store lost: (a misleading text)")
    o = _settle_stopped(NoStore(), "r", tmp_path / "nb", tmp_path / "log", settled, outcome)  # type: ignore[arg-type]
    assert o.status == VariantStatus.KILLED and o.reason == settled.text
