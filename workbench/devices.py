"""What earlier remote profiles found out about each SSH device: the CPUs its runner was allowed to use. Recorded
after every profile over SSH (``workbench.profile.targets.profile_model``) and read by ``validate`` (through
``workbench.spec.load.check_machine``), so that a remote target's threads, CPU pins and load clients are
checked against the device before anything is built, as a local target's are against this machine.

One small JSON file per project, ``<project root>/.workbench/devices.json``:
``{"pi@device:22": {"cpus": [0, 1, 2, 3], "cpu_model": "...", "seen": "2026-12-01T03:30:00Z"}}``. A missing or
unreadable file knows nothing (the check then says the CPUs are unknown); it is never an error.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.files import atomic_write, file_lock, read_bounded

DEVICES_FILE = Path(".workbench") / "devices.json"
MAX_BYTES = 1_000_000  # thousands of devices; a larger file is not ours


@dataclass(frozen=True)
class KnownDevice:
    """A remote device as its last profile found it."""

    cpus: tuple[int, ...]  # the CPUs the runner could use there (``os.sched_getaffinity`` on the device)
    cpu_model: str
    seen: str  # UTC, ISO 8601: when that profile ran


def device_key(host: str, port: int) -> str:
    """``user@host:port``: one device (the same host on another port may be another machine)."""
    return f"{host}:{port}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_bounded(path, MAX_BYTES, "devices record"))
    except (OSError, ValueError, WorkbenchError):
        return {}
    return data if isinstance(data, dict) else {}


def known_device(host: str, port: int, root: Path) -> KnownDevice | None:
    """The device ``host`` (on SSH ``port``) as the last profile from the project at ``root`` found it; None
    when none did (or the record is unreadable)."""
    entry = _read(root / DEVICES_FILE).get(device_key(host, port))
    if not isinstance(entry, dict):
        return None
    cpus = entry.get("cpus")
    if not isinstance(cpus, list) or not cpus or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                                         for c in cpus):
        return None
    return KnownDevice(tuple(sorted(set(cpus))), str(entry.get("cpu_model", "")), str(entry.get("seen", "")))


def record_device(host: str, port: int, cpus: list[int], cpu_model: str, root: Path) -> None:
    """Remember that ``host`` let the runner use ``cpus`` (best effort: a record that cannot be written is
    skipped, the profile itself succeeded). Concurrent variants profiling at once take turns on a lock."""
    path = root / DEVICES_FILE
    try:
        with file_lock(path.with_suffix(".lock")):
            data = _read(path)
            data[device_key(host, port)] = {"cpus": sorted(set(cpus)), "cpu_model": cpu_model,
                                            "seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            atomic_write(path, json.dumps(data, indent=1, sort_keys=True))
    except (OSError, WorkbenchError):  # StorageError: disk full; OSError: the folder cannot be made
        pass
