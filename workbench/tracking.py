"""The only module that imports MLflow: experiments, sweep (parent) and variant (child) runs, LoggedModels.

Store: ``MLFLOW_TRACKING_URI`` when set (MLflow's own convention, e.g. a tracking server backed by
PostgreSQL + S3), else the embedded store: ``mlflow.db`` (SQLite) and ``mlartifacts/`` in the working
directory.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import TrackingError
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

for _name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.store.sqlalchemy_store"):
    logging.getLogger(_name).setLevel(logging.WARNING)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


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
        **provenance.tags(plan.experiment.target.threads),
    }
    if sweep_id:
        tags[TAG_SWEEP] = sweep_id
    return tags


def variant_run_params(plan: Plan, planned: PlannedVariant) -> dict[str, str]:
    """The planned spec as dotted params (variant, baseline, target), with the data fingerprint."""
    spec = {
        "variant": planned.spec.model_dump(mode="json"),
        "baseline": plan.experiment.baseline.model_dump(mode="json"),
        "target": plan.experiment.target.model_dump(mode="json"),
    }
    params = flatten(spec)
    params["dataset.fingerprint"] = plan.dataset_fingerprint
    params["experiment.file"] = plan.source
    return params


class Tracker:
    """Thin, explicit wrapper over ``MlflowClient`` (no global active-run state; safe across processes)."""

    def __init__(self, tracking_uri: str | None = None, root: Path | None = None) -> None:
        self.uri = tracking_uri or default_tracking_uri(root)
        self.root = (root or Path.cwd()).resolve()
        # no mlflow.set_tracking_uri(): it exports MLFLOW_TRACKING_URI and would leak into later Trackers
        self.client = MlflowClient(tracking_uri=self.uri)

    # --- reachability -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise TrackingError (one line, with what to do) when the store cannot be used."""
        try:
            self.client.search_experiments(max_results=1)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            hint = ("start the tracking server or unset MLFLOW_TRACKING_URI to use the embedded store"
                    if not is_embedded(self.uri) else "check that the working directory is writable")
            raise TrackingError(f"MLflow tracking store {self.uri} is not reachable ({first}); {hint}") from None

    # --- experiments and runs -----------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return str(exp.experiment_id)
        location = None
        if is_embedded(self.uri):
            location = (self.root / EMBEDDED_ARTIFACTS).resolve().as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
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
        """Register the variant as an MLflow LoggedModel with its .tflite, params and metrics."""
        model = self.client.create_logged_model(
            experiment_id, name=logged_model_name(name), source_run_id=run_id, tags=tags,
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
        return str(model.model_id)

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
            if vid and vid not in out:
                out[vid] = run
        return out

    def mark_dangling(self, experiment_id: str, reason: str) -> list[str]:
        """Runs left RUNNING by a killed sweep -> KILLED, with the reason tagged. Returns their ids."""
        ids = []
        for run in self.runs(experiment_id, statuses=["RUNNING"]):
            self.set_tags(run.info.run_id, {TAG_FAILURE: reason})
            self.end_run(run.info.run_id, "KILLED")
            ids.append(run.info.run_id)
        return ids

    def get_run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(dst)))



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
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        path.write_text(result.to_json())
        tr.log_artifact(run_id, path, "profile")
    tr.log_artifact(run_id, model, "model")
    tr.end_run(run_id)
    return run_id
