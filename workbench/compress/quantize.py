"""Quantization-aware training (int8), plain or collaborative: PQAT (keeps sparsity), CQAT (keeps
clusters), PCQAT (both). The result carries fake-quant ranges; convert it with a full-integer mode."""

from __future__ import annotations

from typing import Any

from workbench._keras import tfmot
from workbench.models import fit
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


def apply_qat(model: Any, step: QATSpec, ctx: Any) -> tuple[Any, dict[str, list[float]]]:
    if ctx.variant.quantization not in ("int8", "int8_io"):
        ctx.note(f"qat trains int8 fake-quant ranges but the variant exports as '{ctx.variant.quantization}'; "
                 "use quantization: int8 to keep them")
    q = tfmot.quantization.keras
    annotated = q.quantize_annotate_model(model)
    scheme = _scheme(step.preserve)
    qat_model = q.quantize_apply(annotated, scheme) if scheme is not None else q.quantize_apply(annotated)
    tr = ctx.experiment.baseline.training
    history = fit(qat_model, ctx.dataset, step.epochs, tr.batch_size, step.learning_rate)
    return qat_model, history
