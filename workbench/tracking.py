"""The only module that imports MLflow: experiments, sweep (parent) and variant (child) runs, LoggedModels.

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

import functools
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import TrackingError, TrackingLost
from workbench.spec.plan import Plan, PlannedVariant

if TYPE_CHECKING:
    from workbench.profile.result import ProfileResult

EMBEDDED_DB = "mlflow.db"
EMBEDDED_ARTIFACTS = "mlartifacts"
TAG_VARIANT = "workbench.variant_id"
TAG_SWEEP = "workbench.sweep_id"
TAG_TECHNIQUE = "workbench.technique"
TAG_VARIANT_NAME = "workbench.variant"
TAG_KIND = "workbench.kind"  # "sweep" | "variant"
TAG_FAILURE = "workbench.failure"
TAG_ROLE = "workbench.role"  # "baseline" (the float reference) | "variant"
TAG_ORIGIN = "workbench.origin"  # "sweep" | "adhoc" (a hand-run notebook, the explorer): ad-hoc never replaces a sweep's
TAG_MODEL_ID = "workbench.model_id"  # the LoggedModel a variant run produced (what the registry promotes)
TAG_NOTE = "mlflow.note.content"  # the description MLflow shows on a run, an experiment, a registered model
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"  # MLflow's experiment type: this is model training, not GenAI
EXPERIMENT_KIND_TRAINING = "custom_model_development"
RECOMMENDED_ALIAS = "recommended"  # the registry alias on the model version the newest sweep recommends
TAG_MODEL_SHA256 = "workbench.model_sha256"  # SHA-256 of the measured .tflite (run and LoggedModel)
TAG_ARTIFACTS_SHA256 = "workbench.artifacts_sha256"  # JSON {artifact path: SHA-256} of every file the run logged
TAG_INTEGRITY = "workbench.integrity"  # set when a result's stored files fail their checksums: never reused again
TAG_LEASE_OWNER = "workbench.lease.owner"  # one id per sweep process; the runs it created and renews
TAG_LEASE_HOST = "workbench.lease.host"
TAG_LEASE_PID = "workbench.lease.pid"
TAG_LEASE_STARTED = "workbench.lease.process_started"  # the owner's process start time (guards pid reuse)
TAG_LEASE_EXPIRES = "workbench.lease.expires"  # epoch seconds; renewed by the owner's heartbeat

for _name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.store.sqlalchemy_store"):
    logging.getLogger(_name).setLevel(logging.WARNING)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # Tracker retries itself, bounded in time
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


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
    ``budget_s`` has passed, then raise ``TrackingLost``. Other errors propagate at once."""
    start = time.monotonic()
    delay = 0.5
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - start
            if waited + delay > budget_s:
                raise TrackingLost(f"MLflow tracking store {uri} stopped answering ({what}: {short_error(exc)}; "
                                   f"retried for {waited:.0f}s, WORKBENCH_TRACKING_RETRY_S={budget_s:g})") from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


@dataclass(frozen=True)
class Lease:
    """Who owns a run: one sweep process (any machine). Renewed by that process's heartbeat."""

    owner: str
    host: str
    pid: int
    process_started: float
    ttl_s: float

    @classmethod
    def mine(cls, ttl_s: float | None = None) -> Lease:
        """A new lease for this process (a fresh owner id per sweep)."""
        import psutil

        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid(),
                   round(psutil.Process().create_time(), 2), lease_ttl_s() if ttl_s is None else ttl_s)

    def tags(self, now: float | None = None) -> dict[str, str]:
        return {TAG_LEASE_OWNER: self.owner, TAG_LEASE_HOST: self.host, TAG_LEASE_PID: str(self.pid),
                TAG_LEASE_STARTED: f"{self.process_started:.2f}",
                TAG_LEASE_EXPIRES: f"{(time.time() if now is None else now) + self.ttl_s:.1f}"}


def lease_state(tags: dict[str, str], now: float | None = None) -> tuple[str, str]:
    """("none" | "live" | "gone", why) for a run's tags. "none": no lease (a hand run, the explorer, a profile,
    a run from before leases): nobody may settle it. "gone": the owner provably stopped: its lease expired,
    or it ran on this host and its process is dead (or the pid now belongs to another process)."""
    owner = tags.get(TAG_LEASE_OWNER)
    if not owner:
        return "none", "no lease"
    now = time.time() if now is None else now
    try:
        expires = float(tags.get(TAG_LEASE_EXPIRES, "0"))
    except ValueError:
        expires = 0.0
    host, pid = tags.get(TAG_LEASE_HOST, "?"), tags.get(TAG_LEASE_PID, "?")
    who = f"sweep process {pid} on {host}"
    if expires < now:
        return "gone", f"the lease of its {who} expired {now - expires:.0f}s ago"
    if host == socket.gethostname():
        import psutil

        try:
            proc = psutil.Process(int(pid))
            same = abs(proc.create_time() - float(tags.get(TAG_LEASE_STARTED, "0"))) < 1.0
            if not same or proc.status() == psutil.STATUS_ZOMBIE:
                return "gone", f"its {who} has ended (the pid is now another process)"
        except (psutil.NoSuchProcess, ValueError):
            return "gone", f"its {who} has ended"
        except psutil.Error:
            pass
    return "live", f"{who}, lease valid {expires - now:.0f}s more"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a variant id: ``won``, or who holds it (``reason`` in one line)."""

    won: bool
    reason: str = ""
    holder_run_id: str = ""


def default_tracking_uri(root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store under ``root`` (default: cwd)."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{((root or Path.cwd()) / EMBEDDED_DB).resolve()}"


def is_embedded(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def logged_model_name(name: str) -> str:
    """MLflow refuses LoggedModel names with / : . % " ' (variant names may hold '.', e.g. sparsity0.8)."""
    return re.sub(r"[/:.%\"']", "_", name) or "model"


def ui_path(experiment_id: str, run_id: str = "", artifact: str = "") -> str:
    """The MLflow UI's address of an experiment (its runs), a run or one of its artifacts, relative to the
    server's root, opening on the model-training view. MLflow 3.17 picks GenAI or model training from the
    browser's last choice (GenAI when none) and ignores the experiment's kind, so the address says it."""
    page = f"#/experiments/{experiment_id}/runs" + (f"/{run_id}" if run_id else "")
    if run_id and artifact:
        page += f"/artifacts/{artifact}"
    return page + "?workflowType=machine_learning"


def variant_run_name(name: str, sweep_id: str = "") -> str:
    """A variant run's name: the variant's, marked ``(ad-hoc)`` when no sweep made it (a hand run, the explorer)."""
    return name if sweep_id else f"{name} (ad-hoc)"


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested spec -> dotted keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in d.items():
        k = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, k + "."))
        elif isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{k}.{i}."))
        else:
            out[k] = str(value)[:6000]
    return out


def variant_run_tags(plan: Plan, planned: PlannedVariant, sweep_id: str = "") -> dict[str, str]:
    """The tags of a variant's run, built only here: by the sweep when it creates the run, or by a hand run."""
    from workbench import provenance

    tags = {
        TAG_KIND: "variant", TAG_VARIANT: planned.id, TAG_VARIANT_NAME: planned.name,
        TAG_TECHNIQUE: planned.spec.technique, TAG_ROLE: planned.role,
        TAG_ORIGIN: "sweep" if sweep_id else "adhoc",
        **provenance.tags(plan.experiment.target.threads), **source_tags(plan.source),
    }
    if sweep_id:
        tags[TAG_SWEEP] = sweep_id
    return tags


def source_tags(experiment_file: str) -> dict[str, str]:
    """MLflow's Source column: the experiment file the run comes from."""
    return {"mlflow.source.name": Path(experiment_file).name or experiment_file, "mlflow.source.type": "LOCAL"}


def variant_run_params(plan: Plan, planned: PlannedVariant) -> dict[str, str]:
    """The planned spec as dotted params (variant, baseline, target), with the data fingerprint."""
    spec = {
        "variant": planned.spec.model_dump(mode="json"),
        "baseline": plan.experiment.baseline.model_dump(mode="json"),
        "target": plan.experiment.target.model_dump(mode="json"),
    }
    params = flatten(spec)
    params["dataset.fingerprint"] = plan.dataset_fingerprint
    if plan.model_fingerprint:  # a user's model file, by content (zoo models have none)
        params["model.fingerprint"] = plan.model_fingerprint
    params["experiment.file"] = plan.source
    return params


def _open_client(uri: str) -> MlflowClient:
    """An MlflowClient; for a SQLite file, checked first (MLflow would retry a path it cannot open for ~100 s)
    and created under a file lock, so that two processes opening a new store do not race its schema migration."""
    if not uri.startswith("sqlite:///"):
        return MlflowClient(tracking_uri=uri)
    from workbench.files import file_lock

    db = Path(uri.removeprefix("sqlite:///").split("?")[0])
    if db.exists() and not db.is_file():
        raise TrackingError(f"MLflow tracking store {uri}: {db} is not a file; move it away or set "
                            "MLFLOW_TRACKING_URI")
    if not db.parent.is_dir():
        raise TrackingError(f"MLflow tracking store {uri}: the folder {db.parent} does not exist")
    try:
        with file_lock(db.with_name(f".{db.name}.lock")):
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)  # creates or migrates the schema, once, here
    except OSError as exc:
        raise TrackingError(f"MLflow tracking store {uri} cannot be opened ({exc.strerror or exc}); check that "
                            f"{db.parent} is writable") from None
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {uri} cannot be opened ({short_error(exc)})") from None
    return client


class Tracker:
    """Thin, explicit wrapper over ``MlflowClient`` (no global active-run state; safe across processes)."""

    def __init__(self, tracking_uri: str | None = None, root: Path | None = None,
                 retry_s: float | None = None) -> None:
        self.uri = tracking_uri or default_tracking_uri(root)
        self.root = (root or Path.cwd()).resolve()
        # no mlflow.set_tracking_uri(): it exports MLFLOW_TRACKING_URI and would leak into later Trackers
        self.raw = _open_client(self.uri)  # no retries: reachability checks, last-chance settling
        self.retry_s = retry_budget_s() if retry_s is None else retry_s
        self.client: Any = _RetryingClient(self.raw, self.uri, self.retry_s)

    # --- reachability -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TrackingError (one line, with what to do) when the store cannot be used."""
        try:
            self.raw.search_experiments(max_results=1)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            hint = ("start the tracking server or unset MLFLOW_TRACKING_URI to use the embedded store"
                    if not is_embedded(self.uri) else "check that the working directory is writable")
            raise TrackingError(f"MLflow tracking store {self.uri} is not reachable ({first}); {hint}") from None

    # --- experiments and runs -----------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        """The experiment's id, created (as a model-training experiment) or restored when needed."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            if exp.tags.get(TAG_EXPERIMENT_KIND) != EXPERIMENT_KIND_TRAINING:
                self.client.set_experiment_tag(exp.experiment_id, TAG_EXPERIMENT_KIND, EXPERIMENT_KIND_TRAINING)
            return str(exp.experiment_id)
        location = None
        if is_embedded(self.uri):
            location = (self.root / EMBEDDED_ARTIFACTS).resolve().as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location,
                                                     tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND_TRAINING}))
        except Exception:  # created concurrently by another worker
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)

    def start_run(self, experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None) -> str:
        all_tags = dict(tags)
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(experiment_id, run_name=name, tags=all_tags)
        return str(run.info.run_id)

    def log(self, run_id: str, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            tags: dict[str, Any] | None = None, step: int = 0) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)[:6000]) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()],
        )

    def log_history(self, run_id: str, history: dict[str, list[float]], prefix: str = "") -> None:
        """Per-epoch curves as metric histories (step = epoch)."""
        now = int(time.time() * 1000)
        metrics = [Metric(f"{prefix}{k}", float(v), now, step) for k, vals in history.items()
                   for step, v in enumerate(vals)]
        for i in range(0, len(metrics), 900):
            self.client.log_batch(run_id, metrics=metrics[i : i + 900])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.log(run_id, tags=tags)

    # --- LoggedModel ---------------------------------------------------------------------------
    def log_model(self, experiment_id: str, run_id: str, name: str, tflite: Path, params: dict[str, Any],
                  metrics: dict[str, float], tags: dict[str, str]) -> str:
        """Register the variant as an MLflow LoggedModel with its .tflite, params and metrics. Its name says
        which experiment and variant it is, and is unique: ``<experiment>-<variant>-<variant id[:8]>``."""
        experiment = self.client.get_experiment(experiment_id).name
        vid = tags.get(TAG_VARIANT, "")
        model = self.client.create_logged_model(
            experiment_id, name=logged_model_name(f"{experiment}-{name}" + (f"-{vid[:8]}" if vid else "")),
            source_run_id=run_id, tags=tags,
            params={k: str(v) for k, v in params.items()}, model_type="tflite",
        )
        try:
            self.client.log_model_artifact(model.model_id, str(tflite))
            now = int(time.time() * 1000)
            self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0, model_id=model.model_id)
                                                   for k, v in metrics.items()])
            self.client.finalize_logged_model(model.model_id, "READY")
        except Exception:
            self.client.finalize_logged_model(model.model_id, "FAILED")
            raise
        self.client.set_tag(run_id, TAG_MODEL_ID, model.model_id)
        return str(model.model_id)

    # --- what a manager sees: descriptions, the dataset, the registry --------------------------
    def experiments(self) -> list[tuple[str, str]]:
        """(name, id) of every active experiment that holds runs, newest first."""
        exps = self.client.search_experiments(order_by=["creation_time DESC"])
        return [(str(e.name), str(e.experiment_id)) for e in exps
                if self.client.search_runs([e.experiment_id], max_results=1)]

    def describe_experiment(self, experiment_id: str, text: str) -> None:
        """The experiment's description (markdown, shown above its runs)."""
        self.client.set_experiment_tag(experiment_id, TAG_NOTE, text)

    def rename_run(self, run_id: str, name: str) -> None:
        self.client.update_run(run_id, name=name)

    def log_image(self, run_id: str, png: bytes, name: str, compare: bool = True) -> None:
        """A PNG as the artifact ``name`` (the artifact view shows it) and, with ``compare``, as an MLflow image
        under the key of its stem (run comparisons' image charts show it)."""
        import io
        import tempfile

        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="wb-img-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(png)
            self.client.log_artifact(run_id, str(path))
        if compare:
            self.client.log_image(run_id, Image.open(io.BytesIO(png)), key=Path(name).stem, step=0)

    def log_dataset(self, run_id: str, dataset: str, fingerprint: str, context: str = "test") -> None:
        """Record what the numbers were measured on as the run's MLflow dataset input (the Dataset column):
        ``dataset`` as the experiment names it (a zoo name, an .npz path, ``module:function``) and its
        fingerprint (the first 16 hex digits are MLflow's digest; the whole one is in the profile)."""
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        local = dataset.endswith(".npz")
        name = Path(dataset).stem if local else dataset
        ds = Dataset(name=name[:500], digest=fingerprint[:16], source_type="local" if local else "code",
                     source=json.dumps({"uri": dataset} if local else {"tags": {"workbench.dataset": dataset}}),
                     profile=json.dumps({"dataset": dataset, "fingerprint": fingerprint}))
        self.client.log_inputs(run_id, [DatasetInput(ds, [InputTag("mlflow.data.context", context)])])

    def model_id_of(self, run: Any) -> str | None:
        """The LoggedModel a variant run produced (its tag, else a search by source run)."""
        if run.data.tags.get(TAG_MODEL_ID):
            return str(run.data.tags[TAG_MODEL_ID])
        models = self.client.search_logged_models([run.info.experiment_id],
                                                  filter_string=f"source_run_id = '{run.info.run_id}'",
                                                  output_format="list")
        return str(models[0].model_id) if models else None

    def promote(self, registered_name: str, run: Any, description: str, tags: dict[str, str]) -> str | None:
        """Point the ``recommended`` alias of the registered model ``registered_name`` at ``run``'s LoggedModel,
        adding a model version when that model is not already the aliased one (so the version history is the
        history of recommendations). Returns the aliased version, None when the run has no LoggedModel."""
        from mlflow.exceptions import MlflowException

        model_id = self.model_id_of(run)
        if model_id is None:
            return None
        try:
            self.client.create_registered_model(registered_name, description=(
                f"What ships for experiment '{registered_name}': the alias `{RECOMMENDED_ALIAS}` "
                "is the variant the newest sweep recommends; each version is one recommendation, with the sweep "
                "that made it."))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        try:
            current = self.client.get_model_version_by_alias(registered_name, RECOMMENDED_ALIAS)
        except MlflowException:
            current = None
        if current is not None and current.source == f"models:/{model_id}":  # (the store may not keep model_id)
            return str(current.version)
        version = self.client.create_model_version(registered_name, source=f"models:/{model_id}",
                                                   run_id=run.info.run_id, tags=tags, description=description,
                                                   model_id=model_id)
        self.client.set_registered_model_alias(registered_name, RECOMMENDED_ALIAS, version.version)
        return str(version.version)

    def demote(self, registered_name: str) -> None:
        """No variant is recommended any more: the ``recommended`` alias is removed (versions stay)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.delete_registered_model_alias(registered_name, RECOMMENDED_ALIAS)
        except MlflowException:
            pass  # no such model or alias: nothing was recommended

    # --- queries ------------------------------------------------------------------------------
    def runs(self, experiment_id: str, filter_string: str = "", statuses: Iterable[str] | None = None,
             max_results: int = 5000) -> list[Any]:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                           page_token=token, order_by=["attributes.start_time DESC"])
            runs.extend(page)
            token = page.token
            if not token or len(runs) >= max_results:
                break
        if statuses is not None:
            wanted = set(statuses)
            runs = [r for r in runs if r.info.status in wanted]
        return runs

    def finished_variant_runs(self, experiment_id: str, since_ms: int = 0) -> dict[str, Any]:
        """variant id -> its newest FINISHED run (resume and de-duplication), ended after ``since_ms``."""
        out: dict[str, Any] = {}
        for run in self.runs(experiment_id, f"tags.`{TAG_KIND}` = 'variant'", statuses=["FINISHED"]):
            if since_ms and (run.info.end_time or 0) < since_ms:
                continue
            vid = run.data.tags.get(TAG_VARIANT)
            if run.data.tags.get(TAG_ORIGIN) == "adhoc":
                continue  # a hand run is not a sweep result: it never replaces one
            if run.data.tags.get(TAG_INTEGRITY):
                continue  # its stored files failed their checksums: it is no result any more
            if vid and vid not in out:
                out[vid] = run
        return out

    # --- leases and claims ---------------------------------------------------------------------
    def settle_abandoned(self, experiment_id: str) -> list[str]:
        """RUNNING runs whose owner is provably gone (``lease_state``) -> KILLED, with the reason tagged.
        Runs without a lease (hand runs, the explorer, ``profile --log-to``) and runs of live sweeps are
        never touched. Returns the ids settled."""
        ids = []
        now = time.time()
        for run in self.runs(experiment_id, statuses=["RUNNING"]):
            state, why = lease_state(run.data.tags, now)
            if state != "gone":
                continue
            self.set_tags(run.info.run_id, {TAG_FAILURE: f"killed: its sweep is gone ({why})"})
            self.end_run(run.info.run_id, "KILLED")
            ids.append(run.info.run_id)
        return ids

    def renew(self, experiment_id: str, lease: Lease) -> int:
        """Heartbeat: push the expiry of every RUNNING run this lease owns. Returns how many."""
        runs = self.runs(experiment_id, f"tags.`{TAG_LEASE_OWNER}` = '{lease.owner}'", statuses=["RUNNING"])
        expires = lease.tags()[TAG_LEASE_EXPIRES]
        for run in runs:
            self.client.set_tag(run.info.run_id, TAG_LEASE_EXPIRES, expires)
        return len(runs)

    def settle_own(self, experiment_id: str, lease: Lease, status: str, reason: str,
                   keep: Iterable[str] = ()) -> list[str]:
        """End every run this lease still holds RUNNING (but ``keep``) with ``status`` and ``reason``."""
        kept = set(keep)
        ids = []
        for run in self.runs(experiment_id, f"tags.`{TAG_LEASE_OWNER}` = '{lease.owner}'", statuses=["RUNNING"]):
            if run.info.run_id in kept:
                continue
            self.set_tags(run.info.run_id, {TAG_FAILURE: reason})
            self.end_run(run.info.run_id, status)
            ids.append(run.info.run_id)
        return ids

    def variant_claims(self, experiment_id: str, variant_id: str) -> list[Any]:
        """The sweep runs of one variant id (RUNNING or FINISHED), oldest claim first."""
        runs = self.runs(experiment_id, f"tags.`{TAG_VARIANT}` = '{variant_id}' and tags.`{TAG_KIND}` = 'variant'",
                         statuses=["RUNNING", "FINISHED"])
        runs = [r for r in runs if r.data.tags.get(TAG_ORIGIN) != "adhoc" and not r.data.tags.get(TAG_INTEGRITY)]
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def live_claims(self, experiment_id: str, lease: Lease | None = None) -> dict[str, Any]:
        """variant id -> the oldest RUNNING sweep run of another live owner (what a new sweep must leave alone)."""
        out: dict[str, Any] = {}
        now = time.time()
        runs = self.runs(experiment_id, f"tags.`{TAG_KIND}` = 'variant'", statuses=["RUNNING"])
        for run in sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id)):
            tags = run.data.tags
            if lease is not None and tags.get(TAG_LEASE_OWNER) == lease.owner:
                continue
            vid = tags.get(TAG_VARIANT)
            if vid and vid not in out and lease_state(tags, now)[0] == "live":
                out[vid] = run
        return out

    def claim(self, experiment_id: str, run_id: str, variant_id: str, lease: Lease,
              finished_after_ms: int | None = 0) -> Claim:
        """Decide whether the run just created for ``variant_id`` (tagged with ``lease``) may run it.

        MLflow has no compare-and-set, so: create first (the caller did), wait ``claim_settle_s``, then read
        every RUNNING / FINISHED sweep run of the variant. It loses to a FINISHED run that counts (ended after
        ``finished_after_ms``; ``None`` = --force, FINISHED runs do not count) and to any live claim of another
        owner created before it (start time, then run id). Two claimants that read each other decide alike; one
        that read before the other's claim existed was created earlier by at least the settle pause, so the
        order holds as long as the machines' clocks agree within that pause. Extra RUNNING runs of our own
        lease for the same variant (a ``create_run`` retried after a lost response) are deleted. A loser
        deletes its own claim."""
        time.sleep(claim_settle_s())
        mine = None
        now = time.time()
        for run in self.variant_claims(experiment_id, variant_id):
            tags, rid = run.data.tags, run.info.run_id
            if rid == run_id:
                mine = run
                continue
            if run.info.status == "FINISHED":
                if finished_after_ms is not None and (run.info.end_time or 0) >= finished_after_ms:
                    return self._lose(run_id, f"already FINISHED in run {rid}", rid)
                continue
            if tags.get(TAG_LEASE_OWNER) == lease.owner:
                self.client.delete_run(rid)  # our own duplicate
                continue
            state, why = lease_state(tags, now)
            if state == "live" and mine is None:  # sorted: a live claim older than ours
                sweep = tags.get(TAG_SWEEP, "?")
                return self._lose(run_id, f"running elsewhere: run {rid} of sweep {sweep} ({why})", rid)
        if mine is None:
            return Claim(False, f"its claim (run {run_id}) is no longer in the store")
        return Claim(True)

    def _lose(self, run_id: str, reason: str, holder: str) -> Claim:
        self.client.delete_run(run_id)
        return Claim(False, reason, holder)

    def try_settle(self, run_id: str, status: str, reason: str) -> bool:
        """Tag the reason and end the run, retrying only within this tracker's budget (the store may be down:
        a Tracker made with ``retry_s=0`` tries once). False if the store refused."""
        try:
            self.client.set_tag(run_id, TAG_FAILURE, reason[:5000])
            self.client.set_terminated(run_id, status)
            return True
        except Exception:
            return False

    def get_run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(dst)))



# --- integrity: the SHA-256 recorded for every logged file, checked against what the store now holds --------
@dataclass(frozen=True)
class Mismatch:
    """A stored file that is not what was recorded: changed (``actual`` set) or missing (``actual`` None)."""

    run_id: str
    variant: str
    where: str  # "run artifact model/model.tflite" | "LoggedModel m-... model.tflite"
    expected: str
    actual: str | None
    detail: str = ""

    def __str__(self) -> str:
        what = (f"is missing ({self.detail})" if self.actual is None and self.detail else "is missing"
                if self.actual is None else f"has SHA-256 {self.actual[:12]}, recorded {self.expected[:12]}")
        return f"{self.variant} (run {self.run_id[:12]}): {self.where} {what}"


def recorded_sha256(tags: dict[str, str]) -> dict[str, str]:
    """artifact path -> SHA-256 recorded in a run's tags (the manifest, else the model alone); {} for a run
    logged before checksums were recorded (it cannot be verified)."""
    import json

    try:
        manifest = json.loads(tags.get(TAG_ARTIFACTS_SHA256, ""))
    except ValueError:
        manifest = None
    if isinstance(manifest, dict) and manifest:
        return {str(k): str(v) for k, v in manifest.items()}
    model = tags.get(TAG_MODEL_SHA256)
    return {"model/model.tflite": model} if model else {}


def _sha256_of_download(download: Callable[..., Any]) -> tuple[str | None, str]:
    """(SHA-256 of the file ``download(dst_path=...)`` fetched, '') or (None, why it could not be fetched)."""
    import tempfile

    from workbench.model_files import sha256_file

    with tempfile.TemporaryDirectory(prefix="wb-verify-") as tmp:
        try:
            local = Path(download(dst_path=tmp))
        except TrackingLost:
            raise
        except Exception as exc:
            return None, short_error(exc)[:120]
        if not local.is_file():
            return None, "not a file"
        return sha256_file(local), ""


def logged_models_by_run(tracker: Tracker, experiment_id: str) -> dict[str, list[Any]]:
    """run id -> the LoggedModels it produced (every page of the experiment's models)."""
    out: dict[str, list[Any]] = {}
    token = None
    while True:
        page = tracker.client.search_logged_models([experiment_id], max_results=100, page_token=token)
        for m in page:
            out.setdefault(str(m.source_run_id), []).append(m)
        token = page.token
        if not token:
            return out


def verify_run(tracker: Tracker, run: Any, logged_models: list[Any] | None = None) -> list[Mismatch]:
    """Re-hash the files a run logged (run artifacts, and each READY LoggedModel's .tflite) against the
    SHA-256s the run recorded. Empty when everything matches; a run with nothing recorded gives nothing
    (``recorded_sha256`` tells those apart)."""
    import mlflow.artifacts

    run_id = str(run.info.run_id)
    tags = dict(run.data.tags)
    variant = tags.get(TAG_VARIANT_NAME) or str(run.info.run_name)
    found: list[Mismatch] = []
    for path, expected in sorted(recorded_sha256(tags).items()):
        actual, why = _sha256_of_download(functools.partial(tracker.client.download_artifacts, run_id, path))
        if actual != expected:
            found.append(Mismatch(run_id, variant, f"run artifact {path}", expected, actual, why))
    model_sha = tags.get(TAG_MODEL_SHA256, "")
    for m in logged_models or []:
        if str(getattr(m.status, "name", m.status)) != "READY":
            continue  # a model whose upload failed was finalized FAILED: it never stood for the run
        expected = m.tags.get(TAG_MODEL_SHA256, "")
        if not expected:
            continue  # logged before checksums were recorded
        where = f"LoggedModel {m.model_id} model.tflite"
        if model_sha and expected != model_sha:
            found.append(Mismatch(run_id, variant, f"LoggedModel {m.model_id} tag {TAG_MODEL_SHA256}", model_sha,
                                  expected))
        uri = f"{str(m.artifact_location).rstrip('/')}/model.tflite"
        fetch = functools.partial(with_retries, mlflow.artifacts.download_artifacts, "download_artifacts", tracker.uri,
                                  tracker.retry_s, artifact_uri=uri, tracking_uri=tracker.uri)
        actual, why = _sha256_of_download(fetch)
        if actual != expected:
            found.append(Mismatch(run_id, variant, where, expected, actual, why))
    return found


def log_profile_run(experiment: str, model: Path, result: ProfileResult, tracking_uri: str | None = None) -> str:
    """A standalone profile (``workbench profile --log-to``) as a FINISHED run with metrics and artifacts."""
    import json
    import tempfile

    from workbench import provenance

    tr = Tracker(tracking_uri)
    tr.check()
    exp = tr.experiment_id(experiment)
    run_id = tr.start_run(exp, f"profile {model.name}", {TAG_KIND: "profile",
                                                         **provenance.tags(result.request.threads),
                                                         "workbench.device": json.dumps(result.device)})
    tr.log(run_id, params=result.params(), metrics=result.metrics())
    from workbench.model_files import sha256_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(result.to_json())
        model_sha = sha256_file(model)
        manifest = {f"model/{model.name}": model_sha, "profile/profile.json": sha256_file(path)}
        tr.log(run_id, tags={TAG_MODEL_SHA256: model_sha, TAG_ARTIFACTS_SHA256: json.dumps(manifest)})
        tr.log_artifact(run_id, path, "profile")
    tr.log_artifact(run_id, model, "model")
    tr.end_run(run_id)
    return run_id
