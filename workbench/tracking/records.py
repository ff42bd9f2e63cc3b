"""What ``Tracker`` hands out: the workbench's own frozen records, built from MLflow's entities here and nowhere
else, so no caller reads ``run.data.tags`` or holds an ``MlflowClient``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workbench.tracking.names import (
    TAG_COMPARED_TO,
    TAG_COMPLETE,
    TAG_FAILURE,
    TAG_NOTE,
    TAG_RECOMMENDED_VARIANT,
    TAG_REGRESSIONS,
    TAG_SWEEP,
    TAG_VARIANT_COUNT,
)


class RunStatus(StrEnum):
    """An MLflow run's status as the store keeps it (a ``str``: compares equal to MLflow's names)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass(frozen=True)
class RunRecord:
    """One run: identity, status, times (epoch ms), and what it logged."""

    run_id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    artifact_uri: str = ""
    lifecycle_stage: str = "active"
    datasets: tuple[str, ...] = ()  # names of its MLflow dataset inputs

    def tag(self, name: str, default: str = "") -> str:
        return self.tags.get(name, default)

    @property
    def failure(self) -> str:
        return self.tags.get(TAG_FAILURE, "")

    @property
    def note(self) -> str:
        return self.tags.get(TAG_NOTE, "")

    @property
    def complete(self) -> bool:
        """The variant logged everything: its ``workbench.complete`` marker (set last by ``log_variant``), or, for
        a run logged before the marker existed, its accuracy metric (so a resume across the upgrade reuses it)."""
        marker = self.tags.get(TAG_COMPLETE)
        return marker == "true" if marker is not None else "accuracy" in self.metrics


@dataclass(frozen=True)
class SweepSummary:
    """One sweep as ``workbench sweeps`` lists it, read from its parent run: when, how many variants it planned
    and how they ended, what the nightly comparison found (``regressions`` None: not compared) and what it
    recommended (``""``: nothing settled)."""

    sweep_id: str
    run_id: str
    status: RunStatus
    start_time: int  # epoch ms
    variants: int  # planned (selected) variants; -1 when the run does not say
    finished: int
    failed: int
    skipped: int
    regressions: int | None
    compared_to: str
    recommended: str


def sweep_summary(run: RunRecord) -> SweepSummary:
    """A sweep's parent run as a ``SweepSummary`` (counts are logged when the sweep settles: 0 before that)."""
    def count(name: str) -> int:
        return int(run.metrics.get(name, 0))

    regressions = run.tags.get(TAG_REGRESSIONS)
    variants = run.tags.get(TAG_VARIANT_COUNT, "")
    return SweepSummary(run.tags.get(TAG_SWEEP, ""), run.run_id, run.status, run.start_time,
                        int(variants) if variants.isdigit() else -1, count("variants_finished"),
                        count("variants_failed"), count("variants_skipped"),
                        int(regressions) if regressions is not None and regressions.isdigit() else None,
                        run.tags.get(TAG_COMPARED_TO, ""), run.tags.get(TAG_RECOMMENDED_VARIANT, ""))


@dataclass(frozen=True)
class ExperimentRecord:
    experiment_id: str
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    lifecycle_stage: str = "active"


@dataclass(frozen=True)
class LoggedModelRecord:
    """A LoggedModel: ``status`` READY | FAILED | PENDING, ``artifact_location`` where its files are."""

    model_id: str
    name: str
    source_run_id: str
    status: str
    artifact_location: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersionRecord:
    name: str
    version: str
    source: str
    run_id: str


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    is_dir: bool
    size_bytes: int | None = None


def run_record(run: Any) -> RunRecord:
    """An MLflow ``Run`` as a ``RunRecord``."""
    info, data = run.info, run.data
    inputs = getattr(run, "inputs", None)
    datasets = tuple(str(i.dataset.name) for i in (inputs.dataset_inputs if inputs is not None else []))
    return RunRecord(run_id=str(info.run_id), experiment_id=str(info.experiment_id), name=str(info.run_name or ""),
                     status=RunStatus(str(info.status)), start_time=int(info.start_time or 0),
                     end_time=int(info.end_time) if info.end_time else None, tags=dict(data.tags),
                     params=dict(data.params), metrics=dict(data.metrics), artifact_uri=str(info.artifact_uri or ""),
                     lifecycle_stage=str(info.lifecycle_stage), datasets=datasets)


def experiment_record(exp: Any) -> ExperimentRecord:
    return ExperimentRecord(str(exp.experiment_id), str(exp.name), dict(exp.tags or {}), str(exp.lifecycle_stage))


def logged_model_record(model: Any) -> LoggedModelRecord:
    return LoggedModelRecord(str(model.model_id), str(model.name), str(model.source_run_id or ""),
                             str(getattr(model.status, "name", model.status)), str(model.artifact_location),
                             dict(model.tags or {}))


def model_version_record(version: Any) -> ModelVersionRecord:
    return ModelVersionRecord(str(version.name), str(version.version), str(version.source), str(version.run_id or ""))
