"""Tag names, store locations, run names, tags and params: what the workbench writes, built in one place.

No MLflow import: these are plain strings and dicts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from workbench.spec.plan import Plan, PlannedVariant

EMBEDDED_DB = "mlflow.db"
EMBEDDED_ARTIFACTS = "mlartifacts"
TAG_VARIANT = "workbench.variant_id"
TAG_SWEEP = "workbench.sweep_id"
TAG_TECHNIQUE = "workbench.technique"
TAG_VARIANT_NAME = "workbench.variant"
TAG_KIND = "workbench.kind"  # "sweep" | "variant"
TAG_FAILURE = "workbench.failure"
TAG_ROLE = "workbench.role"  # "baseline" (the float reference) | "variant"
#: what the float reference is: "your model, not retrained", "retrained N epochs from your weights", or a zoo model's
TAG_BASELINE_TRAINING = "workbench.baseline_training"
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
TAG_COMPLETE = "workbench.complete"  # "true", set last by log_variant: the variant logged everything
TAG_PARENT_RUN = "mlflow.parentRunId"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_VERSION_PREFIX = "workbench.version."  # + package short name (provenance.versions())
TAG_CPU_MODEL = "workbench.cpu_model"
TAG_CPU_COUNT = "workbench.cpu_count"
TAG_THREADS = "workbench.threads"
TAG_HOSTNAME = "workbench.hostname"
TAG_DEVICE = "workbench.device"  # JSON: the device the profile ran on
# what a variant run measured (log_variant)
TAG_RUNTIME = "workbench.runtime"
TAG_PROFILE_AXES = "workbench.profile_axes"  # JSON {axis: "FINISHED" | "FAILED: why"}
TAG_NOISY = "workbench.noisy"
TAG_PAID_OFF = "workbench.paid_off"
TAG_FALLBACK_OPS = "workbench.fallback_ops"
TAG_IO_TYPES = "workbench.io_types"
TAG_OPS = "workbench.ops"
# a sweep's parent run
TAG_EXPERIMENT_FILE = "workbench.experiment_file"
TAG_VARIANT_COUNT = "workbench.variants"
TAG_EXECUTOR = "workbench.executor"
TAG_FAILURES = "workbench.failures"
TAG_DASHBOARD_ERROR = "workbench.dashboard_error"
TAG_REGRESSIONS = "workbench.regressions"
TAG_COMPARED_TO = "workbench.compared_to"
TAG_COMPARISON = "workbench.comparison"  # the nightly comparison's one line
TAG_RECOMMENDED = "workbench.recommended"  # "true" on exactly one variant run of an experiment: the newest pick
TAG_RECOMMENDED_VARIANT = "workbench.recommended_variant"  # on a sweep that settled a recommendation ("none")
TAG_HELD = "workbench.recommendation_held"  # on a sweep with regressions: why the alias and the tag did not move
# a search's parent run
TAG_STOPPED_BY = "workbench.stopped_by"
TAG_PARETO_SIZE_LATENCY = "workbench.pareto_size_latency"
#: a precision search: its front (accuracy delta, size, p50) as the candidates' names, comma-separated
TAG_PRECISION_FRONT = "workbench.precision_front"
# MLflow's UI: its saved runs-table views (experiment tags; the format of MLflow 3.15-3.17, see tracking/views.py),
# the primary metric its chart view starts from, and the runs view the landing page opens
TAG_SAVED_VIEW_PREFIX = "mlflow.sharedViewState."
TAG_PRIMARY_METRIC = "mlflow.experiment.primaryMetric.name"
RUNS_VIEW_ID = "workbench-ships"  # one fixed id: every sweep rewrites the same view instead of adding one
# MLflow's dataset inputs
TAG_DATASET = "workbench.dataset"
TAG_DATA_CONTEXT = "mlflow.data.context"
# values of TAG_KIND and TAG_ORIGIN
KIND_SWEEP, KIND_VARIANT, KIND_SEARCH, KIND_EXPLORER, KIND_PROFILE = "sweep", "variant", "search", "explorer", "profile"
ORIGIN_SWEEP, ORIGIN_ADHOC = "sweep", "adhoc"


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


def ui_path(experiment_id: str, run_id: str = "", artifact: str = "", view: bool = False) -> str:
    """The MLflow UI's address of an experiment (its runs), a run or one of its artifacts, relative to the
    server's root, opening on the model-training view. MLflow 3.17 picks GenAI or model training from the
    browser's last choice (GenAI when none) and ignores the experiment's kind, so the address says it.
    ``view``: open the experiment's runs on the saved view a sweep wrote (``RUNS_VIEW_ID``: its columns, sort,
    charts); MLflow shows an error for a view that does not exist, so only an address known to have one asks."""
    page = f"#/experiments/{experiment_id}/runs" + (f"/{run_id}" if run_id else "")
    if run_id and artifact:
        page += f"/artifacts/{artifact}"
    return page + "?workflowType=machine_learning" + (f"&viewStateShareKey={RUNS_VIEW_ID}" if view and not run_id
                                                       else "")


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
    tags = {
        TAG_KIND: KIND_VARIANT, TAG_VARIANT: planned.id, TAG_VARIANT_NAME: planned.name,
        TAG_TECHNIQUE: planned.spec.technique, TAG_ROLE: planned.role,
        TAG_BASELINE_TRAINING: plan.experiment.baseline.training_words(),
        TAG_ORIGIN: ORIGIN_SWEEP if sweep_id else ORIGIN_ADHOC,
        **provenance_tags(plan.experiment.target.threads), **source_tags(plan.source),
    }
    if sweep_id:
        tags[TAG_SWEEP] = sweep_id
    return tags


def source_tags(experiment_file: str) -> dict[str, str]:
    """MLflow's Source column: the experiment file the run comes from."""
    return {TAG_SOURCE_NAME: Path(experiment_file).name or experiment_file, TAG_SOURCE_TYPE: "LOCAL"}


def provenance_tags(threads: int) -> dict[str, str]:
    """What a number depends on besides the spec, as run tags: versions, CPU model and count, profiling
    threads, git commit, host."""
    import platform

    from workbench import provenance

    tags = {f"{TAG_VERSION_PREFIX}{k}": v for k, v in provenance.versions().items()}
    tags.update({TAG_CPU_MODEL: provenance.cpu_model(), TAG_CPU_COUNT: str(os.cpu_count()), TAG_THREADS: str(threads),
                 TAG_GIT_COMMIT: provenance.git_commit(), TAG_HOSTNAME: platform.node()})
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
    if plan.model_fingerprint:  # a user's model file, by content (zoo models have none)
        params["model.fingerprint"] = plan.model_fingerprint
    params["experiment.file"] = plan.source
    return params
