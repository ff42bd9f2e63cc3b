"""The file-system edge: atomic writes and advisory locks (released by the kernel if the holder dies)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import StorageError, WorkbenchError

#: what the operating system's refusals mean, in the words a user looks for
OS_ERROR_WORDS = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
                  errno.EACCES: "permission denied", errno.EPERM: "operation not permitted", errno.EIO: "I/O error",
                  errno.EMFILE: "too many open files", errno.ENAMETOOLONG: "file name too long",
                  errno.ENOTDIR: "a file is in the way of a folder"}


def describe_os_error(exc: OSError, path: Path | str | None = None, doing: str = "writing") -> str:
    """One line naming what the OS refused and where, e.g. ``disk full while writing /x/model.tflite``."""
    where = path if path is not None else exc.filename
    words = OS_ERROR_WORDS.get(exc.errno or -1) or (exc.strerror or str(exc) or type(exc).__name__)
    return f"{words} while {doing} {where}" if where else f"{words} ({exc.strerror or exc})"


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write to a temp file in the same folder, then rename: readers never see half a file. StorageError
    (``disk full while writing <path>``, ...) when the OS refuses; the temp file is removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - the folder itself is gone or unwritable
            pass
        raise StorageError(describe_os_error(exc, path)) from exc


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
