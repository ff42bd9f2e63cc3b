"""The file-system edge: atomic writes and advisory locks (released by the kernel if the holder dies)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import WorkbenchError


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def experiment_lock(work_dir: Path, name: str) -> Iterator[None]:
    """One sweep of an experiment at a time per work directory (released by the kernel if we are killed)."""
    lock_dir = work_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / (hashlib.sha256(name.encode()).hexdigest()[:16] + ".lock")
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkbenchError(f"another sweep of experiment '{name}' is running in {work_dir}; "
                                 "wait for it or use a different --work-dir") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
