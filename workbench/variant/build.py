"""The cells that make the variant's files: its training-time steps on a copy of the baseline, then the
conversion to ``model.tflite`` (and the other formats its runtimes run)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalog import runtime
from workbench.catalog.quantization import quant_mode, recipe_needs_calibration
from workbench.errors import ModelFileError
from workbench.files import atomic_write
from workbench.runtimes import Sources, formats_needed, make_files, runtimes_of
from workbench.variant.context import VariantContext, calibration_samples
from workbench.variant.records import Exported

if TYPE_CHECKING:  # workbench.compress imports TensorFlow: only the type, at check time
    from workbench.compress import ChainResult


def compress_variant(ctx: VariantContext) -> ChainResult:
    """Apply the variant's training-time steps to a fresh copy of the baseline; returns a ChainResult."""
    from workbench.compress import apply_steps

    result = apply_steps(ctx.baseline.load_model(), ctx.variant.steps, ctx.dataset,
                         ctx.experiment.resolved_training())  # the task's loss when it gives none
    if result.history and ctx.tracker:
        ctx.tracker.log_history(ctx.run_id, result.history)
    return result


def convert_variant(ctx: VariantContext, compressed: ChainResult) -> Exported:
    """Convert with the variant's quantization mode; writes ``model.tflite`` into the variant folder."""
    from workbench.convert import convert

    facts: dict[str, Any] = {}
    notes: tuple[str, ...] = ()
    if ctx.planned.role == "baseline":
        content = ctx.baseline.tflite_path.read_bytes()  # the baseline's own float file: same bytes
    elif ctx.variant.keep_float:
        content, facts, notes = _convert_selective(ctx, compressed.model)
    elif ctx.variant.recipe is not None:  # quantization mixed: the variant's own per-layer recipe
        from workbench.convert.quantizer import quantize_recipe

        # the float file is the baseline's own, byte for byte, and a recipe with static layers is calibrated on
        # the experiment's draw: the file a precision search quantized and measured
        calib = calibration_samples(ctx) if recipe_needs_calibration(ctx.variant.recipe) else None
        content = quantize_recipe(ctx.baseline.tflite_path.read_bytes(), ctx.variant.recipe,
                                  f"the recipe of {ctx.variant.name}", calib)
        facts = {"quantizer": "litert-quantizer", "quantizer_recipe": list(ctx.variant.recipe),
                 **({"calibration_samples": len(calib)} if calib is not None else {})}
        notes = (f"{ctx.variant.technique}: {len(ctx.variant.recipe)} per-layer rule(s) of the LiteRT Quantizer "
                 "applied to the float baseline's .tflite",)
    else:
        qat = any(s.technique == "qat" for s in ctx.variant.steps)
        content = convert(compressed.model, ctx.variant.quantization, calibration_samples(ctx), qat=qat)
        if quant_mode(ctx.variant.quantization).tool == "quantizer":  # the recipe, logged in compress_info.json
            from workbench.convert.quantizer import recipe

            facts = {"quantizer": "litert-quantizer", "quantizer_recipe": recipe(ctx.variant.quantization)}
            notes = (f"{ctx.variant.quantization}: {quant_mode(ctx.variant.quantization).what}",)
    sha256 = hashlib.sha256(content).hexdigest()  # once: carried by Exported, checked when logged
    if ctx.planned.role == "baseline" and ctx.baseline.tflite_sha256 and sha256 != ctx.baseline.tflite_sha256:
        raise ModelFileError(f"the cached float baseline {ctx.baseline.tflite_path} changed after it was verified; "
                             "run again (a corrupt cache is moved aside and retrained)")
    path = ctx.files.tflite
    atomic_write(path, content)
    others, errors, other_notes = _other_files(ctx, compressed, path)
    return Exported(path, facts, (*notes, *other_notes), sha256, others, errors)


def _other_files(ctx: VariantContext, compressed: ChainResult,
                 tflite: Path) -> tuple[dict[str, Path], dict[str, str], tuple[str, ...]]:
    """The file of every other format the variant's target or profile axes run (``model.onnx``, ...). A
    failure is fatal only when the main target needs it; an axis is then recorded FAILED with the reason."""
    main = ctx.experiment.target_for(ctx.variant)
    formats = formats_needed(runtimes_of(main, ctx.experiment.profile_targets(ctx.variant)))
    if not formats:
        return {}, {}, ()
    mode = "float32" if ctx.planned.role == "baseline" else ctx.variant.quantization
    src = Sources(lambda: compressed.model, mode, tflite, calibration_samples(ctx),
                  qat=any(s.technique == "qat" for s in ctx.variant.steps), keep_float=bool(ctx.variant.keep_float))
    return make_files(src, formats, ctx.out_dir, required=runtime(main.runtime).file_format)


def _convert_selective(ctx: VariantContext, model: Any) -> tuple[bytes, dict[str, Any], tuple[str, ...]]:
    """int8 with the ``keep_float`` most quantization-sensitive layers left in float32 (measured on LiteRT)."""
    from workbench.analysis.sensitivity import most_sensitive, quant_sensitivity, weighted_layer_names
    from workbench.convert import convert, convert_selective

    calib = calibration_samples(ctx)
    rows = quant_sensitivity(convert(model, "float32"), convert(model, "int8", calib), ctx.dataset.x_test[:64],
                             layer_names=weighted_layer_names(model))  # named as the sensitivity notebook does
    keep = most_sensitive(rows, ctx.variant.keep_float)
    note = (f"selective int8: kept in float32 the {len(keep)} most sensitive layer(s): "
            + ", ".join(f"{r['layer']} (RMSE/scale {r['rmse_over_scale']:.2f})" for r in keep))
    content = convert_selective(model, calib, [r["node"] for r in keep], int8_io=ctx.variant.quantization == "int8_io")
    return content, {"sensitivity": rows, "kept_float_layers": [r["layer"] for r in keep]}, (note,)
