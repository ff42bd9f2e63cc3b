"""Quantization-aware training (int8), plain or collaborative: PQAT (keeps sparsity), CQAT (keeps
clusters), PCQAT (both). The result carries fake-quant ranges; the spec only lets it export to a
full-integer mode (int8 / int8_io)."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.compress.result import StepResult
from workbench.data import Dataset
from workbench.models import fit
from workbench.spec import TrainingSpec
from workbench.spec.steps import QATSpec


def _scheme(preserve: str) -> Any:
    combine = tfmot.experimental.combine
    if preserve == "sparsity":
        return combine.Default8BitPrunePreserveQuantizeScheme()
    if preserve == "clusters":
        return combine.Default8BitClusterPreserveQuantizeScheme()
    if preserve == "both":
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    return None


def apply_qat(model: Any, step: QATSpec, data: Dataset, training: TrainingSpec) -> StepResult:
    """Insert int8 fake-quant nodes (tfmot ``quantize_apply``, which works on a copy) and fine-tune.

    Args:
        model: the Keras model to quantize; not modified.
        step: preserve (none / sparsity / clusters / both), epochs, learning rate.
        data: fine-tuning and validation arrays.
        training: batch size.
    Returns:
        The QAT model (convert it with ``qat=True``); no facts.
    """
    q = tfmot.quantization.keras
    annotated = q.quantize_annotate_model(model)
    scheme = _scheme(step.preserve)
    qat_model = q.quantize_apply(annotated, scheme) if scheme is not None else q.quantize_apply(annotated)
    names = list(getattr(model, "output_names", None) or [])
    if len(names) > 1 and len(names) == len(qat_model.output_names):
        # the wrappers are named quant_<layer>; the exported outputs keep the model's own names, which the task's
        # outputs and the float reference's use (what the converter names a signature's outputs by)
        qat_model.output_names = names
    history = fit(qat_model, data, step.epochs, training.batch_size, step.learning_rate, loss=training.loss)
    return StepResult(qat_model, history)
