"""What a dead supervisor left running, found and ended before a re-run measures anything.

Each variant's process tree is started through ``run/tether.py`` (which kills the tree the moment its
supervisor dies). As a second line, the supervisor records every tree it starts in the work directory
(``<work dir>/procs/<run id>.json``: the tether's pid and start time, the supervisor's, the host), removes the
record when the tree has ended, and marks every process of the tree with ``WORKBENCH_TREE=<run id>`` in its
environment (inherited by papermill, the kernel, the profiling runner and anything they start). ``end_orphans``
(called by a sweep or a search under its experiment lock, before it settles or claims anything) ends every
recorded tree whose supervisor is gone: the tether and its descendants, and any process still carrying the
tree's mark (one that escaped the tether, e.g. when the tether itself was killed by hand).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from workbench.files import atomic_write

TETHER = Path(__file__).with_name("tether.py")
TREE_ENV = "WORKBENCH_TREE"  # environment mark of every process of one variant's tree (its run id)


def _started(pid: int) -> float | None:
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


def start_tree(cmd: list[str], work_dir: Path, run_id: str, **popen: Any) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``cmd`` under the tether, marked and recorded. Returns the process (the tether) and the write end of
    its watch pipe, which the caller closes (``end_tree``) once the process has ended."""
    read_fd, write_fd = os.pipe()  # not inheritable: only this process holds the write end
    env = dict(popen.pop("env", None) or os.environ, **{TREE_ENV: run_id})
    try:
        proc = subprocess.Popen([sys.executable, "-I", str(TETHER), str(read_fd), "--", *cmd], env=env,
                                pass_fds=(read_fd,), start_new_session=True, **popen)
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    record = {"run_id": run_id, "pid": proc.pid, "started": _started(proc.pid), "host": socket.gethostname(),
              "supervisor_pid": os.getpid(), "supervisor_started": _started(os.getpid())}
    try:
        atomic_write(_record_path(work_dir, run_id), json.dumps(record))
    except Exception:  # noqa: S110 - the record is the second line of defence; the tether is the first
        pass
    return proc, write_fd


def end_tree(work_dir: Path, run_id: str, write_fd: int) -> None:
    """The tree of ``run_id`` has ended: close its watch pipe and forget its record."""
    os.close(write_fd)
    try:
        _record_path(work_dir, run_id).unlink(missing_ok=True)
    except OSError:
        pass


def _record_path(work_dir: Path, run_id: str) -> Path:
    return Path(work_dir) / "procs" / f"{run_id}.json"


def _alive(pid: int, started: float | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and (started is None or abs(proc.create_time() - started) < 1.0)
    except psutil.Error:
        return False


def end_orphans(work_dir: Path) -> list[int]:
    """End every recorded tree (on this host) whose supervisor is gone; returns the pids killed."""
    import psutil

    folder = Path(work_dir) / "procs"
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    stale: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*.json"):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("host") != host or _alive(int(rec.get("supervisor_pid", 0)), rec.get("supervisor_started")):
            continue
        stale[str(rec.get("run_id"))] = {**rec, "path": path}
    if not stale:
        return []
    victims: list[psutil.Process] = []
    for rec in stale.values():
        if _alive(int(rec["pid"]), rec.get("started")):
            try:
                tether = psutil.Process(int(rec["pid"]))
                victims += [tether, *tether.children(recursive=True)]
            except psutil.Error:
                pass
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(TREE_ENV) in stale:
                victims.append(proc)
        except psutil.Error:
            continue
    killed = []
    for proc in {p.pid: p for p in victims}.values():
        try:
            proc.kill()
            killed.append(proc.pid)
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=5)
    for rec in stale.values():
        rec["path"].unlink(missing_ok=True)
    return killed
