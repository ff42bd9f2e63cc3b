"""A full disk anywhere in a sweep (the work directory, the project root with the embedded store) ends in one line
and exit 2, with the store consistent (issue 20). The full disks are real: small tmpfs mounts, filled up; where
mounting is not permitted (not root, no CAP_SYS_ADMIN), the tests skip and say so."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.fault_rows import Row, fault_row

pytestmark = pytest.mark.slow

STUB = REPO / "tests" / "data" / "stub_variant.ipynb"
DRIVER = textwrap.dedent(f"""\
    import sys
    import workbench.run.sweep as sweep
    sweep.NOTEBOOK = {str(STUB)!r}  # the stand-in notebook (no TensorFlow); everything else is the real CLI
    from workbench.cli import main
    main(sys.argv[1:])
    """)
TWO = ("name: two\nbaseline: {model: digits_cnn, dataset: digits}\n"
       "variants: [{name: float32, quantization: float32}, {name: int8, quantization: int8}]\n")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs at ``tmp_path / "fs"``."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()[:120]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path, leave_kb: int = 4) -> None:
    """Fill ``folder``'s file system up to ``leave_kb`` KB."""
    st = os.statvfs(folder)
    free_kb = st.f_bavail * st.f_frsize // 1024
    with open(folder / "filler", "wb") as f:
        f.write(bytes(max(0, free_kb - leave_kb) * 1024))


def _sweep(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "WORKBENCH_CLAIM_SETTLE_S": "0.2"})
    return subprocess.run([sys.executable, "-c", DRIVER, "run", "e.yaml", "--no-progress", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL)


def _one_line(res: subprocess.CompletedProcess[str], needle: str, row: Row, tmp: Path) -> str:
    row.exit = res.returncode
    row.output(res.stderr, res.stdout, tmp)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.stderr[-3000:]
    return lines[0]


def test_only_the_work_dir_full_one_line_exit_2_and_the_runs_settled(
        tmp_path: Path, small_fs: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with fault_row(tmp_path_factory.getbasetemp(), "os-work-dir-disk-full", "disk / OS errors",
                   "`run --work-dir` on a full 3 MB tmpfs (the project root and store have room)") as row:
        (tmp_path / "e.yaml").write_text(TWO)
        _fill(small_fs)
        res = _sweep(tmp_path, "--work-dir", str(small_fs))
        line = _one_line(res, "disk full", row, tmp_path)
        assert "run the same command again" in line
        from workbench.tracking import Tracker

        tr = Tracker(root=tmp_path)
        runs = tr.runs(tr.experiment("two").experiment_id)
        statuses = sorted(r.status for r in runs)
        assert "RUNNING" not in statuses and "FINISHED" not in statuses, statuses  # settled; nothing half-logged
        assert sum(s == "FAILED" for s in statuses) == 1  # the sweep stopped at the first refusal, not per variant
        row.runs_created = len(runs)
        row.note = f"runs settled: {', '.join(map(str, statuses))} (one FAILED: the sweep stopped at the first)"


def test_project_root_and_store_on_a_full_disk_one_line_exit_2(
        tmp_path: Path, small_fs: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with fault_row(tmp_path_factory.getbasetemp(), "os-store-disk-full", "disk / OS errors",
                   "`run` with the project root and its embedded store on a full 3 MB tmpfs") as row:
        (small_fs / "e.yaml").write_text(TWO)
        from workbench.tracking import Tracker

        Tracker(root=small_fs).check()  # the store exists (it had room once); now the disk is full
        _fill(small_fs)
        res = _sweep(small_fs)
        _one_line(res, "refused a write", row, small_fs)
        assert "disk full" in res.stderr and "Traceback" not in res.stderr
        import sqlite3

        with sqlite3.connect(small_fs / "mlflow.db") as con:  # the database is intact
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            row.runs_created = int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
        row.note = "the database passes PRAGMA integrity_check"
