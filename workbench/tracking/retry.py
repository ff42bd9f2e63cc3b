"""Bounded retries: transient tracking errors (connection refused or reset, timeouts, 502/503/504, a locked
SQLite file) are retried with back-off for ``WORKBENCH_TRACKING_RETRY_S`` seconds, then ``TrackingLost``."""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from mlflow.tracking import MlflowClient  # noqa: E402

from workbench.errors import StorageError, TrackingLost
from workbench.files import storage_refusal


class _StorageRefusals(logging.Filter):
    """MLflow's SQL store logs a full traceback of every database error before raising it; a disk that refused the
    write is reported once, in one line, by ``with_retries``: that traceback is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and storage_refusal(exc))


logging.getLogger("mlflow.store.db.utils").addFilter(_StorageRefusals())


def _env_s(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def retry_budget_s() -> float:
    """How long a call keeps retrying a store that answers with transient errors."""
    return _env_s("WORKBENCH_TRACKING_RETRY_S", 60.0)


def lease_ttl_s() -> float:
    """How long a lease stays valid without a heartbeat (well above the retry budget: a sweep riding out a
    short outage must not look dead)."""
    return _env_s("WORKBENCH_LEASE_TTL_S", max(180.0, 3 * retry_budget_s()))


def claim_settle_s() -> float:
    """Pause between creating a claim and reading the others: claims from machines whose clocks differ by
    less than this are ordered correctly."""
    return _env_s("WORKBENCH_CLAIM_SETTLE_S", 0.5)


_TRANSIENT = re.compile(
    r"failed with (timeout )?exception|Max retries exceeded|Connection refused|Connection reset|Connection aborted|"
    r"RemoteDisconnected|Read timed out|timed out|database is locked|server closed the connection|"
    r"could not connect to server|connection to server|terminating connection|Temporarily Unavailable|"
    r"TEMPORARILY_UNAVAILABLE|too many 50[0234] error|\b50[234]\b.*Server Error|Server Error.*\b50[234]\b",
    re.IGNORECASE)


#: two writers inserted the same key at once (MLflow's SQL store sets a tag, or records a dataset, by "read, then
#: insert", so two sweeps that start together can both insert ``mlflow.note.content`` or the same dataset digest):
#: the call is idempotent, and made once more
_RACED = re.compile(r"UniqueViolation|duplicate key value|UNIQUE constraint failed", re.IGNORECASE)


def is_race(exc: BaseException, what: str) -> bool:
    """An idempotent call (``set_*``: tags, aliases; ``log_inputs``: a dataset by its digest) that lost an insert
    race to another writer of the same key."""
    return (what.startswith("set_") or what == "log_inputs") and bool(_RACED.search(f"{exc}"))


def is_transient(exc: BaseException) -> bool:
    """A store error worth retrying: the store was unreachable or overloaded, not a refused request."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 6:
        if isinstance(e, ConnectionError | TimeoutError):
            return True
        mod = type(e).__module__
        if mod.startswith("requests") and type(e).__name__ in ("ConnectionError", "Timeout", "ReadTimeout",
                                                               "ConnectTimeout", "ChunkedEncodingError"):
            return True
        if _TRANSIENT.search(f"{type(e).__name__}: {e}"):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def short_error(exc: BaseException) -> str:
    """A store error in a few words (the HTTP client's messages run to several hundred characters)."""
    text = f"{exc}"
    for pattern, words in (("Connection refused", "connection refused"), ("Connection reset", "connection reset"),
                           ("timed out|timeout", "timed out"), ("RemoteDisconnected", "connection closed by the server"),
                           ("database is locked", "database is locked")):
        if re.search(pattern, text, re.IGNORECASE):
            return words
    status = re.search(r"\b50[234]\b", text)
    if status:
        return f"HTTP {status.group(0)}"
    lines = text.strip().splitlines()
    return (lines[0][:160] if lines else type(exc).__name__) or type(exc).__name__


class _RetryingClient:
    """``MlflowClient`` whose every public method retries transient store errors with back-off, for at most
    ``budget_s`` seconds, then raises ``TrackingLost``. Retrying is safe for MLflow's calls (tags, params and
    terminations are idempotent); a ``create_run`` whose response was lost may leave an extra run behind,
    which carries the creator's lease and is settled by it (see ``Tracker.settle_own``)."""

    def __init__(self, client: MlflowClient, uri: str, budget_s: float) -> None:
        self._client = client
        self._uri = uri
        self._budget_s = budget_s

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return with_retries(attr, name, self._uri, self._budget_s, *args, **kwargs)

        return call


def with_retries(fn: Callable[..., Any], what: str, uri: str, budget_s: float, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; on a transient store error wait (0.5 s, doubling, at most 8 s) and retry until
    ``budget_s`` has passed, then raise ``TrackingLost``. An idempotent call that lost an insert race to another
    writer of the same key is repeated (at most 3 times: the key exists now, so it updates). Other errors
    propagate at once."""
    start = time.monotonic()
    delay = 0.5
    races = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if races < 3 and is_race(exc, what):
                races += 1
                time.sleep(0.05 * races)
                continue
            if not is_transient(exc):
                refused = storage_refusal(exc)
                if refused:  # the store's disk: one line, and nothing to retry
                    raise StorageError(f"MLflow tracking store {uri} refused a write ({what}): {refused}; free "
                                       "space there and run the same command again, it redoes only what is "
                                       "missing") from None
                raise
            waited = time.monotonic() - start
            if waited + delay > budget_s:
                raise TrackingLost(f"MLflow tracking store {uri} stopped answering ({what}: {short_error(exc)}; "
                                   f"retried for {waited:.0f}s, WORKBENCH_TRACKING_RETRY_S={budget_s:g})") from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
