"""Content ids: the SHA-256 of canonical JSON. ``hash()`` is not stable across processes; never use it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from workbench.catalog.zoo import ZOO_MODELS
from workbench.spec.experiment import BaselineSpec, ExperimentSpec, TargetSpec, VariantSpec


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same data always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _baseline_payload(baseline: BaselineSpec, model_fingerprint: str) -> dict[str, Any]:
    """The baseline spec as hashed: a user's model file counts by its content, not its path."""
    b = baseline.model_dump(mode="json", exclude_defaults=True)
    if model_fingerprint:  # zoo models have none, so their ids never change
        b["model"] = f"sha256:{model_fingerprint}"
    elif baseline.model in ZOO_MODELS and ZOO_MODELS[baseline.model].revision:  # a zoo builder that changed
        b["zoo_revision"] = ZOO_MODELS[baseline.model].revision
    return b


def task_loss(experiment: ExperimentSpec, variant: VariantSpec | None = None) -> str:
    """The loss training takes from the task, as part of an id: '' unless something trains (the baseline's epochs,
    the variant's steps) on a task other than classification (whose loss is what it always was), and not when
    ``training.loss`` names the one loss (it is in the spec already), so no earlier id changes."""
    training = experiment.baseline.training
    trained = training.epochs > 0 or (variant is not None and bool(variant.steps))
    if experiment.task.classification or isinstance(training.loss, str) or not trained:
        return ""
    return canonical_json(experiment.resolved_training().loss)


def variant_id(variant: VariantSpec, baseline: BaselineSpec, dataset_fingerprint: str, target: TargetSpec,
               profiles: tuple[dict[str, Any], ...] = (), model_fingerprint: str = "", loss: str = "") -> str:
    """SHA-256 over (variant spec without its name, baseline, dataset fingerprint, target).

    Names are labels, not content: renaming a variant keeps its history; changing what it computes
    gives a new id. Timeouts are excluded for the same reason, and so is a remote target's declared ``cpus``
    (what the device has, not how it is measured). Fields left at their defaults are
    omitted, so adding a new option (with a default) to a spec never changes existing ids. A user's
    model file enters by its content (``model_fingerprint``): replacing the file at the same path gives
    new ids, moving it keeps them.
    """
    v = variant.model_dump(mode="json", exclude={"name", "timeout_s", "steps"}, exclude_defaults=True)
    if variant.steps:  # the technique is a discriminator with a default: always keep it
        v["steps"] = [{**s.model_dump(mode="json", exclude_defaults=True), "technique": s.technique}
                      for s in variant.steps]
    payload: dict[str, Any] = {
        "variant": v,
        "baseline": _baseline_payload(baseline, model_fingerprint),
        "dataset": dataset_fingerprint,
        "target": target.model_dump(mode="json", exclude={"name", "cpus"}, exclude_defaults=True),
    }
    if profiles:  # only when present, so ids of experiments without extra profiles never change
        payload["profiles"] = list(profiles)
    if loss:  # the task's loss when it trains (``task_loss``)
        payload["loss"] = loss
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def baseline_id(baseline: BaselineSpec, dataset_fingerprint: str, model_fingerprint: str = "", loss: str = "") -> str:
    """Cache key of a trained baseline (a user's model file counts by its content; ``loss``: ``task_loss``)."""
    payload: dict[str, Any] = {"baseline": _baseline_payload(baseline, model_fingerprint), "dataset": dataset_fingerprint}
    if loss:
        payload["loss"] = loss
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()
