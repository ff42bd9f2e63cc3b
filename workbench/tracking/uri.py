"""A tracking URI checked before MLflow sees it: the scheme is one this MLflow can use, the URI is well formed,
and a database server answers on its port. Without this, an unknown scheme or a malformed URI ends in a
60-line traceback, and a database on a closed port in MLflow's own retries (115 s, 215 lines).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from workbench.errors import TrackingError

#: database schemes (with or without a SQLAlchemy driver: ``postgresql+psycopg``) and their default ports
DB_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}
OTHER_SCHEMES = ("sqlite", "http", "https", "databricks", "databricks-uc", "uc")
PROBE_TIMEOUT_S = 3.0  # a database that does not answer its port within this is reported unreachable
_USE = ("use http(s)://HOST:PORT (a tracking server), sqlite:///PATH/mlflow.db or postgresql://USER@HOST:PORT/DB, "
        "or unset MLFLOW_TRACKING_URI for the embedded store")


def check_tracking_uri(uri: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise TrackingError (one line naming the URI and what to use) for a URI MLflow cannot open: no scheme,
    an unknown scheme, the file store (MLflow 3 refuses it), a server URI without a host, or a database
    whose port refuses or does not answer within ``timeout_s`` (a TCP connection, no login)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise TrackingError(f"MLflow tracking store '{uri}' is not a valid URI ({exc}); {_USE}") from None
    scheme = parts.scheme.lower()
    base = scheme.split("+")[0]
    if "://" not in uri or not scheme:
        raise TrackingError(f"MLflow tracking store '{uri}' is not a URI (no scheme://); {_USE}")
    if base == "file":
        raise TrackingError(f"MLflow tracking store '{uri}': MLflow no longer writes file stores; {_USE}")
    if base not in DB_PORTS and scheme not in OTHER_SCHEMES:
        raise TrackingError(f"MLflow tracking store '{uri}': unknown scheme '{parts.scheme}'; {_USE}")
    if scheme in ("http", "https") and not parts.hostname:
        raise TrackingError(f"MLflow tracking store '{uri}' names no host; {_USE}")
    if base in DB_PORTS and parts.hostname:  # no host: a local Unix socket, left to the driver
        address = (parts.hostname, port or DB_PORTS[base])
        try:
            socket.create_connection(address, timeout=timeout_s).close()
        except OSError as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc) or type(exc).__name__)
            raise TrackingError(f"MLflow tracking store {uri} is not reachable ({why} at {address[0]}:{address[1]});"
                                " start the database or unset MLFLOW_TRACKING_URI to use the embedded store") from None
