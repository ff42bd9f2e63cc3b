"""Typed outcomes for supervision: what became of a variant (``VariantStatus``) and why a variant or a sweep
was stopped (``Stop``, with its ``StopReason``), carried from where it happens (a signal handler, the lease
heartbeat, a running variant's poll, its time limit) to where it is decided (``task._settle_stopped``, the
sweep's settle step), instead of being parsed back out of a sentence."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class VariantStatus(StrEnum):
    """A variant's row in a sweep (a ``str``: summary.json and the tables read the same words as before)."""

    FINISHED = "FINISHED"  # measured and logged (its run FINISHED, complete)
    FAILED = "FAILED"  # its notebook failed, crashed or timed out (its run FAILED)
    KILLED = "KILLED"  # stopped by the sweep (a signal, its sweep ended; its run KILLED)
    SKIPPED = "SKIPPED"  # already FINISHED in an earlier run: reused
    ELSEWHERE = "ELSEWHERE"  # claimed by another live sweep
    LOST = "LOST"  # the tracking store stopped answering: nothing could be settled


class StopReason(StrEnum):
    """Why a variant (or the sweep) stopped before its notebook ended by itself."""

    SIGNAL = "signal"  # SIGINT / SIGTERM / SIGHUP (or Ctrl-C) reached the sweep
    TRACKING_LOST = "tracking-lost"  # the store stayed unreachable past the retry budget
    TIMEOUT = "timeout"  # the variant's time limit
    SWEEP_ENDED = "sweep-ended"  # its sweep's parent run was ended (interrupted elsewhere, settled)
    RUN_SETTLED = "run-settled"  # its own run was settled by another sweep: no longer ours to end
    NOTEBOOK_ERROR = "notebook-error"  # a cell raised, the kernel died, papermill failed
    STORAGE = "storage"  # a disk refused (full, quota, read-only): the sweep stops, no later variant can do better
    BASELINE = "baseline"  # the float baseline was found unusable (diverged, NaN/Inf): no variant can be measured
    ERROR = "error"  # the supervising process itself failed (a bug, a refused request)


@dataclass(frozen=True)
class Stop:
    """A stop: its ``reason`` (what decides how it is settled) and ``text`` (the one line recorded on the run as
    ``workbench.failure`` and shown to the user). ``detail``: the store's error when the store was lost."""

    reason: StopReason
    text: str
    detail: str = ""

    @classmethod
    def tracking_lost(cls, detail: str) -> Stop:
        return cls(StopReason.TRACKING_LOST, f"tracking store lost: {detail}", detail)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Outcome:
    """What became of one variant task; ``stop`` says why it was stopped, when it was."""

    variant: str
    variant_id: str
    status: VariantStatus
    reason: str
    run_id: str
    seconds: float
    stop: Stop | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
