"""Leases and claims: who owns a RUNNING run, and whether that owner is provably gone."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.tracking.names import (
    TAG_LEASE_EXPIRES,
    TAG_LEASE_HOST,
    TAG_LEASE_OWNER,
    TAG_LEASE_PID,
    TAG_LEASE_STARTED,
)
from workbench.tracking.retry import lease_ttl_s


@dataclass(frozen=True)
class Lease:
    """Who owns a run: one sweep process (any machine). Renewed by that process's heartbeat."""

    owner: str
    host: str
    pid: int
    process_started: float
    ttl_s: float

    @classmethod
    def mine(cls, ttl_s: float | None = None) -> Lease:
        """A new lease for this process (a fresh owner id per sweep)."""
        import psutil

        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(),
                   round(psutil.Process().create_time(), 2), lease_ttl_s() if ttl_s is None else ttl_s)

    def tags(self, now: float | None = None) -> dict[str, str]:
        return {TAG_LEASE_OWNER: self.owner, TAG_LEASE_HOST: self.host, TAG_LEASE_PID: str(self.pid),
                TAG_LEASE_STARTED: f"{self.process_started:.2f}",
                TAG_LEASE_EXPIRES: f"{(time.time() if now is None else now) + self.ttl_s:.1f}"}


def lease_state(tags: Mapping[str, str], now: float | None = None) -> tuple[str, str]:
    """("none" | "live" | "gone", why) for a run's tags. "none": no lease (a hand run, the explorer, a profile,
    a run from before leases): nobody may settle it. "gone": the owner provably stopped: its lease expired,
    or it ran on this host and its process is dead (or the pid now belongs to another process)."""
    owner = tags.get(TAG_LEASE_OWNER)
    if not owner:
        return "none", "no lease"
    now = time.time() if now is None else now
    try:
        expires = float(tags.get(TAG_LEASE_EXPIRES, "0"))
    except ValueError:
        expires = 0.0
    host, pid = tags.get(TAG_LEASE_HOST, "?"), tags.get(TAG_LEASE_PID, "?")
    who = f"sweep process {pid} on {host}"
    if expires < now:
        return "gone", f"the lease of its {who} expired {now - expires:.0f}s ago"
    if host == socket.gethostname():
        import psutil

        try:
            proc = psutil.Process(int(pid))
            same = abs(proc.create_time() - float(tags.get(TAG_LEASE_STARTED, "0"))) < 1.0
            if not same or proc.status() == psutil.STATUS_ZOMBIE:
                return "gone", f"its {who} has ended (the pid is now another process)"
        except (psutil.NoSuchProcess, ValueError):
            return "gone", f"its {who} has ended"
        except psutil.Error:
            pass
    return "live", f"{who}, lease valid {expires - now:.0f}s more"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a variant id: ``won``, or who holds it (``reason`` in one line)."""

    won: bool
    reason: str = ""
    holder_run_id: str = ""
