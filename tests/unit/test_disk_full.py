"""A disk that refuses to store more is recognised wherever it speaks (an OSError, SQLite's words, a notebook's
error line) and stops a sweep in one line (issue 20)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from workbench.errors import StorageError
from workbench.files import refuses_writes, storage_refusal
from workbench.run.status import Outcome, VariantStatus
from workbench.run.task import stop_on_storage


def test_refusals_are_recognised_by_errno_and_by_their_words() -> None:
    sql = Exception("(raised as a result of Query-invoked autoflush)\n(sqlite3.OperationalError) database or disk is full")
    assert storage_refusal(sql) == "disk full"
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as chained:
        assert storage_refusal(chained) == "disk quota exceeded"
    assert storage_refusal("error in cell 4 (`x`): OSError: [Errno 30] Read-only file system") == "read-only file system"
    assert storage_refusal(OSError(errno.ENOENT, "No such file or directory")) is None
    assert storage_refusal("error in cell 3: ValueError: 30 epochs, 28 layers") is None


def test_a_tracking_store_with_a_full_disk_is_one_line_not_a_retry() -> None:
    from workbench.tracking.retry import with_retries

    def full() -> None:
        raise Exception("(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT INTO tags ...]")

    with pytest.raises(StorageError) as caught:
        with_retries(full, "log_batch", "sqlite:///x/mlflow.db", 30.0)
    assert "\n" not in str(caught.value) and "refused a write (log_batch): disk full" in str(caught.value)


def test_a_variant_failed_on_a_full_disk_stops_the_sweep(tmp_path: Path) -> None:
    def failed(reason: str) -> Outcome:
        return Outcome("int8", "id", VariantStatus.FAILED, reason, "run", 1.0)

    with pytest.raises(StorageError, match="variant int8: disk full while writing /w/x.keras.*--work-dir"):
        stop_on_storage(failed("failed: disk full while writing /w/x.keras"), tmp_path)
    stop_on_storage(failed("error in cell 3 (`x`): ValueError: bad"), tmp_path)  # an ordinary failure: goes on
    assert refuses_writes(tmp_path) is None and not list(tmp_path.iterdir())  # room here: the probe is gone
