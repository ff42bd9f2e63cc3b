"""Tracking URIs checked before MLflow sees them (issue 20): one line for an unknown scheme, a malformed URI,
a file store, and a database whose port is closed; a listening port passes (no login is tried)."""

from __future__ import annotations

import socket

import pytest

from workbench.errors import TrackingError
from workbench.tracking.uri import check_tracking_uri


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("uri, words", [
    ("ftp://host/mlflow", "unknown scheme 'ftp'"),
    ("not a uri at all", "not a URI"),
    ("./mlruns", "not a URI"),
    ("file:///tmp/mlruns", "file stores"),
    ("http://", "names no host"),
    ("http://host:notaport", "not a valid URI"),
])
def test_unusable_uris_are_one_line(uri: str, words: str) -> None:
    with pytest.raises(TrackingError, match=words) as exc:
        check_tracking_uri(uri)
    assert "\n" not in str(exc.value) and "MLFLOW_TRACKING_URI" in str(exc.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg", "mysql"])
def test_a_database_on_a_closed_port_is_unreachable(scheme: str) -> None:
    port = _closed_port()
    with pytest.raises(TrackingError, match=f"not reachable .*127.0.0.1:{port}"):
        check_tracking_uri(f"{scheme}://wb@127.0.0.1:{port}/mlflow")


def test_a_listening_database_port_and_other_schemes_pass() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        check_tracking_uri(f"postgresql://wb@127.0.0.1:{server.getsockname()[1]}/mlflow")
    check_tracking_uri("sqlite:////tmp/mlflow.db")
    check_tracking_uri("http://127.0.0.1:5000")  # a server's reachability is Tracker.check's, with MLflow's call
    check_tracking_uri("postgresql:///mlflow")  # no host: a Unix socket, left to the driver
