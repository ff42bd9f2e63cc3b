"""The sweep's heartbeat: a thread in the supervising process that keeps the lease of every run it owns
alive, so other sweeps (any work directory, any machine) leave those runs alone and never settle them.

If the store stops answering for longer than the retry budget, the keeper records the loss and calls
``on_lost`` (the sweep stops its variants and ends with a one-line error).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.tracking import Lease, Tracker


class LeaseKeeper:
    """Renew ``lease`` on every RUNNING run it owns in ``experiment_id``, every ``ttl / 6`` seconds."""

    def __init__(self, tracker: Tracker, experiment_id: str, lease: Lease,
                 on_lost: Callable[[str], None] | None = None, every_s: float | None = None) -> None:
        self.tracker = tracker
        self.experiment_id = experiment_id
        self.lease = lease
        self.on_lost = on_lost
        self.every_s = every_s if every_s is not None else max(1.0, lease.ttl_s / 6)
        self.lost: str = ""  # the store error that ended the heartbeat, if any
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def _run(self) -> None:
        from workbench.errors import TrackingLost

        while not self._stop.wait(self.every_s):
            try:
                self.tracker.renew(self.experiment_id, self.lease)
                self.beats += 1
            except TrackingLost as exc:
                self.lost = str(exc)
                if self.on_lost is not None:
                    self.on_lost(self.lost)
                return
            except Exception:  # noqa: S112 - a refused renewal is retried at the next beat; expiry is far off
                continue

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
