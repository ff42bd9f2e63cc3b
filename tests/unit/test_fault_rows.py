"""The fault table's rows recorded from other test files (tests/e2e/fault_rows.py) join the table's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.fault_rows import ELSEWHERE, Row, fault_row, read_rows, record, render, write_table


def test_rows_recorded_elsewhere_join_the_table_in_their_class(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    record(tmp_path, Row("spec-a", "bad YAML / spec", "a", exit=2, first_line="error: a", handled=True, order=0))
    assert write_table(tmp_path) is not None
    with fault_row(tmp_path, "signal-SIGKILL-tree-dies", "signals", "kill -9") as row:
        row.exit = -9
        row.output("", tmp=tmp_path)
    with pytest.raises(AssertionError), fault_row(tmp_path, "os-store-disk-full", "disk / OS errors", "full") as row:
        row.output(f"error: {tmp_path}/e.yaml: disk full\nTraceback (most recent call last):\n", tmp=tmp_path)
        raise AssertionError("exit 1, 196 stderr lines")
    rows = {r.case: r for r in read_rows(tmp_path)}
    assert rows["signal-SIGKILL-tree-dies"].handled and rows["signal-SIGKILL-tree-dies"].exit == -9
    full = rows["os-store-disk-full"]
    assert not full.handled and full.note == "exit 1, 196 stderr lines" and full.traceback
    assert full.first_line == "error: $CASE/e.yaml: disk full"  # where it ran is not part of the table

    text = (tmp_path / "fault-cases.md").read_text() if write_table(tmp_path) else ""
    assert "**2 of 3 cases handled, 1 not handled; 2 not run.**" in text
    lines = text.splitlines()
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(f"| `{c}`"))
             for c in ("spec-a", "os-store-disk-full", "signal-SIGKILL-tree-dies")]
    assert order == sorted(order)  # by class, as the table orders them
    assert "| `os-store-disk-full` | disk / OS errors | full (`test_disk_full.py`) | None |" in text
    assert "| `concurrent-split-sweeps-converge` | | | | | | | not run | | recorded by `tests/e2e/test_shared_store.py` |" \
        in text
    assert "| disk / OS errors | 1 | 0 | 1 |" in text


def test_no_table_without_the_fault_table_and_workers_write_where_the_controller_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = tmp_path / "popen-gw1"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with fault_row(worker, "os-work-dir-disk-full", "disk / OS errors", "full"):
        pass
    assert [r.case for r in read_rows(tmp_path)] == ["os-work-dir-disk-full"]  # the controller's base folder
    assert write_table(tmp_path) is None  # the fault table itself did not run: no table
    assert set(ELSEWHERE) >= {"os-work-dir-disk-full"}
    with pytest.raises(KeyError):  # a row recorded elsewhere must be declared, so the table lists it when absent
        with fault_row(tmp_path, "undeclared", "signals", "x"):
            pass
    assert "| `signal-SIGKILL-tree-dies` |" in render([])
