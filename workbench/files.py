"""The file-system edge: user files opened only when they are regular files (bounded reads), atomic writes and
advisory locks (released by the kernel if the holder dies)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import stat
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


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((words for test, words in _SPECIAL if test(mode)), "not a regular file")


def refuse_special(path: str | os.PathLike[str], what: str, error: type[WorkbenchError] = WorkbenchError,
                   folder_ok: bool = False) -> None:
    """Refuse ``path`` (after symlinks) unless it is a regular file, or a folder when ``folder_ok``: a named pipe
    would block the read forever and a device (``/dev/zero``) never ends. ``error`` carries one line naming
    the path, what it is and what ``what`` must be. A missing path passes: the caller's own open says so."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:  # a symlink loop, a name too long, no permission: the caller's own open names it
        return
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a directory; the {what} must be a file")
    raise error(f"{path}: is {_kind(mode)}, not a regular file; the {what} must be a file on disk")


def read_bounded(path: str | os.PathLike[str], max_bytes: int, what: str, error: type[WorkbenchError] = WorkbenchError) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them: opened without blocking (a named
    pipe refuses at once instead of waiting for a writer) and checked on the open descriptor, so neither a
    FIFO nor a device (whose size reads 0) nor a file over the cap is read. OSError (missing, directory,
    permission) propagates for the caller to name."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path}: is {_kind(st.st_mode)}, not a regular file; the {what} must be a file on disk")
        if st.st_size > max_bytes:
            raise error(f"{path}: {st.st_size:,} bytes; the {what} is limited to {max_bytes:,} bytes")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while we read it
        raise error(f"{path}: more than {max_bytes:,} bytes; the {what} is limited to {max_bytes:,} bytes")
    return data


#: refusals of the file system itself (not of one file): no later variant can do better, the sweep stops on them
FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_STORAGE_TEXT = re.compile(r"No space left on device|database or disk is full|Disk quota exceeded|"
                           r"Read-only file system|attempt to write a readonly database|\[Errno (28|122|30)\]|"
                           r"\b(disk full|disk quota exceeded|read-only file system)\b", re.IGNORECASE)


def storage_refusal(error: BaseException | str) -> str | None:
    """``disk full`` / ``disk quota exceeded`` / ``read-only file system`` when ``error`` (an exception, with its
    causes, or a failure's text, e.g. a notebook's error line or SQLite's "database or disk is full") says the file
    system refused to store anything more; None otherwise."""
    if isinstance(error, str):
        found = _STORAGE_TEXT.search(error)
        if found is None:
            return None
        text = found.group(0).lower()
        if "quota" in text or "122" in text:
            return OS_ERROR_WORDS[errno.EDQUOT]
        if "read" in text or "30" in text:
            return OS_ERROR_WORDS[errno.EROFS]
        return OS_ERROR_WORDS[errno.ENOSPC]
    e: BaseException | None = error
    for _ in range(8):
        if e is None:
            return None
        if isinstance(e, OSError) and e.errno in FULL_OR_READ_ONLY:
            return OS_ERROR_WORDS[e.errno]
        words = storage_refusal(f"{e}")
        if words:
            return words
        e = e.__cause__ or e.__context__
    return None


def refuses_writes(folder: Path, probe_bytes: int = 1 << 20) -> str | None:
    """``disk full`` (or quota, read-only) when ``folder``'s file system refuses a probe of ``probe_bytes`` now
    (removed at once); None when it takes it. For a failure that could not say why: a papermill whose own log
    could not be written leaves no words behind."""
    probe = Path(folder) / f".wb-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as f:
            f.write(bytes(probe_bytes))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return storage_refusal(exc)
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return None


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
