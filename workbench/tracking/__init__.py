"""The only package that imports MLflow: experiments, sweep (parent) and variant (child) runs, LoggedModels.

Store: ``MLFLOW_TRACKING_URI`` when set (MLflow's own convention, e.g. a tracking server backed by
PostgreSQL + S3), else the embedded store: ``mlflow.db`` (SQLite) and ``mlartifacts/`` in the working
directory.

Shared stores: every call is retried with back-off while the store answers with a transient error
(connection refused or reset, timeouts, 502/503/504, a locked SQLite file), for ``WORKBENCH_TRACKING_RETRY_S``
seconds (default 60); past that a ``TrackingLost`` (one line) is raised. Sweep runs carry a **lease** (owner
id, host, pid, expiry) that the sweep's process renews; a RUNNING run is settled KILLED only when its
lease says its owner is gone (expired, or on this host with its process dead). A variant id is **claimed**
by creating its run and then re-reading the variant's runs: the earliest live claim wins (see
``Tracker.claim``).
"""

from __future__ import annotations

import logging
import os

# before any MLflow import (this package's __init__ runs before its modules)
for _name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.store.sqlalchemy_store"):
    logging.getLogger(_name).setLevel(logging.WARNING)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # Tracker retries itself, bounded in time
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

# the module layout is internal: import these names from ``workbench.tracking``
from workbench.tracking.integrity import (
    Mismatch,
    logged_models_by_run,
    recorded_sha256,
    verify_run,
)
from workbench.tracking.leases import (
    Claim,
    Lease,
    lease_state,
)
from workbench.tracking.names import (
    EMBEDDED_ARTIFACTS,
    EMBEDDED_DB,
    EXPERIMENT_KIND_TRAINING,
    RECOMMENDED_ALIAS,
    TAG_ARTIFACTS_SHA256,
    TAG_EXPERIMENT_KIND,
    TAG_FAILURE,
    TAG_INTEGRITY,
    TAG_KIND,
    TAG_LEASE_EXPIRES,
    TAG_LEASE_HOST,
    TAG_LEASE_OWNER,
    TAG_LEASE_PID,
    TAG_LEASE_STARTED,
    TAG_MODEL_ID,
    TAG_MODEL_SHA256,
    TAG_NOTE,
    TAG_ORIGIN,
    TAG_ROLE,
    TAG_SWEEP,
    TAG_TECHNIQUE,
    TAG_VARIANT,
    TAG_VARIANT_NAME,
    default_tracking_uri,
    flatten,
    is_embedded,
    logged_model_name,
    source_tags,
    ui_path,
    variant_run_name,
    variant_run_params,
    variant_run_tags,
)
from workbench.tracking.retry import (
    claim_settle_s,
    is_transient,
    lease_ttl_s,
    retry_budget_s,
    short_error,
    with_retries,
)
from workbench.tracking.store import (
    Tracker,
    log_profile_run,
)

__all__ = [
    "Claim",
    "EMBEDDED_ARTIFACTS",
    "EMBEDDED_DB",
    "EXPERIMENT_KIND_TRAINING",
    "Lease",
    "Mismatch",
    "RECOMMENDED_ALIAS",
    "TAG_ARTIFACTS_SHA256",
    "TAG_EXPERIMENT_KIND",
    "TAG_FAILURE",
    "TAG_INTEGRITY",
    "TAG_KIND",
    "TAG_LEASE_EXPIRES",
    "TAG_LEASE_HOST",
    "TAG_LEASE_OWNER",
    "TAG_LEASE_PID",
    "TAG_LEASE_STARTED",
    "TAG_MODEL_ID",
    "TAG_MODEL_SHA256",
    "TAG_NOTE",
    "TAG_ORIGIN",
    "TAG_ROLE",
    "TAG_SWEEP",
    "TAG_TECHNIQUE",
    "TAG_VARIANT",
    "TAG_VARIANT_NAME",
    "Tracker",
    "claim_settle_s",
    "default_tracking_uri",
    "flatten",
    "is_embedded",
    "is_transient",
    "lease_state",
    "lease_ttl_s",
    "log_profile_run",
    "logged_model_name",
    "logged_models_by_run",
    "recorded_sha256",
    "retry_budget_s",
    "short_error",
    "source_tags",
    "ui_path",
    "variant_run_name",
    "variant_run_params",
    "variant_run_tags",
    "verify_run",
    "with_retries",
]
