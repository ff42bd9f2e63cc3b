"""Checksums recorded with runs, and re-hashing what the store holds (``workbench verify``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import TrackingLost
from workbench.tracking.names import TAG_ARTIFACTS_SHA256, TAG_MODEL_SHA256, TAG_VARIANT_NAME
from workbench.tracking.records import LoggedModelRecord, RunRecord
from workbench.tracking.retry import short_error, with_retries
from workbench.tracking.store import Tracker


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


def recorded_sha256(tags: Mapping[str, str]) -> dict[str, str]:
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


def _download(tracker: Tracker, run_id: str, path: str, dst_path: str) -> Path:
    return tracker.download(run_id, path, Path(dst_path))


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


def logged_models_by_run(tracker: Tracker, experiment_id: str) -> dict[str, list[LoggedModelRecord]]:
    """run id -> the LoggedModels it produced (every page of the experiment's models)."""
    out: dict[str, list[LoggedModelRecord]] = {}
    for m in tracker.logged_models(experiment_id):
        out.setdefault(m.source_run_id, []).append(m)
    return out


def verify_run(tracker: Tracker, run: RunRecord,
               logged_models: list[LoggedModelRecord] | None = None) -> list[Mismatch]:
    """Re-hash the files a run logged (run artifacts, and each READY LoggedModel's .tflite) against the
    SHA-256s the run recorded. Empty when everything matches; a run with nothing recorded gives nothing
    (``recorded_sha256`` tells those apart)."""
    import mlflow.artifacts

    run_id = run.run_id
    tags = dict(run.tags)
    variant = tags.get(TAG_VARIANT_NAME) or run.name
    found: list[Mismatch] = []
    for path, expected in sorted(recorded_sha256(tags).items()):
        actual, why = _sha256_of_download(functools.partial(_download, tracker, run_id, path))
        if actual != expected:
            found.append(Mismatch(run_id, variant, f"run artifact {path}", expected, actual, why))
    model_sha = tags.get(TAG_MODEL_SHA256, "")
    for m in logged_models or []:
        if m.status != "READY":
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
