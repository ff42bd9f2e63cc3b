"""SIGTERM and SIGHUP (what ``timeout``, systemd and CI cancellation send, and a closed terminal) handled like
Ctrl-C: the first one raises ``Interrupted`` in the main thread, which stops every running variant's process
tree and settles the runs with the true reason ("interrupted by SIGTERM"). Later signals are ignored while
that cleanup runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from workbench.run.status import Stop, StopReason

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The sweep was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def stop(self) -> Stop:
        return Stop(StopReason.SIGNAL, f"interrupted by {self.signal_name}")


def reason_of(exc: BaseException) -> Stop:
    """The stop (and the settle reason) for an exception that ended a sweep."""
    if isinstance(exc, Interrupted):
        return exc.stop
    if isinstance(exc, KeyboardInterrupt):
        return Stop(StopReason.SIGNAL, "interrupted by SIGINT")
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return Stop(StopReason.ERROR, f"sweep stopped: {type(exc).__name__}: {first}")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` once (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:
            return  # already stopping: let the cleanup finish
        fired.append(signum)
        from workbench.run.task import request_stop

        request_stop(Stop(StopReason.SIGNAL, f"interrupted by {signal.Signals(signum).name}"))
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
