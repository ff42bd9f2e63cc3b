"""The plan: an experiment resolved once into everything a sweep runs.

A sweep reads the YAML once, fingerprints the data once, and writes this record; each variant's
notebook then runs exactly what the plan says (its spec, id and role) and never re-reads the YAML, so
editing the file during a sweep changes nothing that sweep computes or how its runs are labelled.
Pure data: building, serialising and reading a plan touches no files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import ValidationError

from workbench.errors import SpecError
from workbench.spec.experiment import ExperimentSpec, Spec, VariantSpec, format_validation_error
from workbench.spec.ids import baseline_id, task_loss, variant_id

Role = Literal["baseline", "variant"]
PLAN_VERSION = 1


def is_reference(variant: VariantSpec) -> bool:
    """The float32 variant with no steps is the float baseline itself, measured like any variant."""
    return not variant.steps and variant.quantization == "float32"


class PlannedVariant(Spec):
    """One variant as the sweep will run it: its full spec (experiment defaults filled in), id and role."""

    id: str
    role: Role
    spec: VariantSpec

    @property
    def name(self) -> str:
        return self.spec.name


class Plan(Spec):
    """Every variant's spec, id and role, with the experiment, baseline id and the fingerprints of the data
    and of the user's model file ('' for a zoo model)."""

    version: int = PLAN_VERSION
    source: str  # where the experiment came from (a YAML path, or "<in-memory>"): a label, never re-read
    experiment: ExperimentSpec
    dataset_fingerprint: str
    model_fingerprint: str = ""  # SHA-256 of the baseline's model file (bytes, or a SavedModel's tree)
    baseline_id: str
    variants: tuple[PlannedVariant, ...]

    def variant(self, key: str) -> PlannedVariant:
        """The planned variant whose id (or id prefix of 12+ characters, or name) is ``key``."""
        for pv in self.variants:
            if pv.id == key or pv.name == key or (len(key) >= 12 and pv.id.startswith(key)):
                return pv
        known = ", ".join(f"{pv.name} ({pv.id[:12]})" for pv in self.variants)
        raise SpecError(f"the plan of '{self.experiment.name}' has no variant '{key}'; planned: {known}")

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str, source: str = "plan") -> Plan:
        """Parse a plan written by ``to_json``; SpecError (one line) when it is not one."""
        try:
            plan = cls.model_validate_json(text)
        except ValidationError as exc:
            raise SpecError(format_validation_error(f"{source} (not a workbench plan)", exc)) from None
        if plan.version != PLAN_VERSION:
            raise SpecError(f"{source}: plan version {plan.version}, this workbench reads version {PLAN_VERSION}")
        return plan


def make_plan(experiment: ExperimentSpec, dataset_fingerprint: str, source: str = "<in-memory>",
              variants: Iterable[VariantSpec] | None = None, model_fingerprint: str = "") -> Plan:
    """Resolve ``experiment`` (its variants, or ``variants`` such as search trials) into a plan.
    ``model_fingerprint`` is the content of a user's model file ('' for a zoo model): part of every id."""
    chosen = experiment.resolved_variants() if variants is None else tuple(variants)
    planned = []
    for v in chosen:
        full = v.model_copy(update={"calibration_samples": v.calibration_samples or experiment.calibration_samples,
                                    "timeout_s": v.timeout_s or experiment.variant_timeout_s})
        vid = variant_id(full, experiment.baseline, dataset_fingerprint, experiment.target, experiment.profiles,
                         model_fingerprint, task_loss(experiment, full))
        planned.append(PlannedVariant(id=vid, role="baseline" if is_reference(full) else "variant", spec=full))
    return Plan(source=source, experiment=experiment, dataset_fingerprint=dataset_fingerprint,
                model_fingerprint=model_fingerprint,
                baseline_id=baseline_id(experiment.baseline, dataset_fingerprint, model_fingerprint,
                                        task_loss(experiment)),
                variants=tuple(planned))
