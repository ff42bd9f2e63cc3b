"""A variant's process tree dies with its supervisor, however the supervisor dies (``kill -9`` included).

Run as a script (standard library only: ``python -I tether.py WATCH_FD -- COMMAND...``) by ``run.task`` in place
of papermill; it starts COMMAND (papermill) as its child and stays beside it, a few MB, asleep:

- It is a **child subreaper** (``PR_SET_CHILD_SUBREAPER``): any process of the tree whose parent dies (the
  notebook kernel when papermill dies, the profiling runner when the kernel dies, anything they started, even
  in another session) is re-parented to the tether, not to init, so the tree's members always descend from it.
- It holds the read end of a **watch pipe** whose only write end lives in the supervisor. When the supervisor
  dies, for whatever reason, the kernel closes that end and the tether reads EOF: it SIGKILLs every descendant,
  repeatedly until none is left, and exits. No polling: it blocks in ``select`` on the pipe and on a pidfd of
  its child.
- Its child gets ``PR_SET_PDEATHSIG`` = SIGKILL: should the tether itself be killed, papermill goes with it.
- When COMMAND ends on its own, whatever it left running is killed too, and the tether exits with COMMAND's
  status (a signal death is repeated on itself, so the supervisor reads the same status papermill had).

The supervisor also records each tether in the work directory (``run.orphans``), and every process of the tree
carries ``WORKBENCH_TREE`` in its environment, so a re-run ends what a tether could not (the tether itself
killed by hand) before it measures anything.
"""

import ctypes
import os
import select
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_LIBC = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int) -> bool:
    return bool(_LIBC.prctl(option, arg, 0, 0, 0) == 0)


def _die_with_parent() -> None:  # runs in the child between fork and exec (this process has one thread)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def descendants(root: int) -> list[int]:
    """Every live (non-zombie) process below ``root``, from /proc (parents before their children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def kill_descendants() -> None:
    """SIGKILL everything below this process until nothing is left (orphans re-parent to us meanwhile), reaping."""
    for _ in range(100):
        pids = descendants(os.getpid())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap()
        if not pids:
            return
        select.select([], [], [], 0.05)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: tether.py WATCH_FD -- COMMAND...\n")
        return 2
    watch = int(argv[1])
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    child = subprocess.Popen(argv[3:], preexec_fn=_die_with_parent)  # noqa: PLW1509 - one thread here
    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel): wake once a second instead
        pidfd = None
    while True:
        ready, _, _ = select.select([watch] + ([pidfd] if pidfd is not None else []), [], [],
                                    None if pidfd is not None else 1.0)
        if watch in ready and not os.read(watch, 64):  # EOF: the supervisor is gone
            kill_descendants()
            return 137
        if (pidfd is not None and pidfd in ready) or (pidfd is None and child.poll() is not None):
            break
    rc = child.wait()
    kill_descendants()  # what the command left behind (a kernel papermill could not shut down, ...)
    if rc < 0:
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
