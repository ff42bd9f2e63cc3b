"""One variant, step by step: the functions the variant notebook calls, one per cell. Each cell returns a
record the next cells take as an argument; nothing is written into a shared context.

    ctx = prepare_variant(plan="plan.json", variant_id="3f2a...")     # planned spec, data, baseline, run
    compressed = compress_variant(ctx)                                # training-time steps -> ChainResult
    exported = convert_variant(ctx, compressed)                       # .tflite file -> Exported
    quality = evaluate_variant(ctx, exported, compressed)             # accuracy etc. on LiteRT
    profiled = profile_variant(ctx, exported)                         # latency/memory in a fresh process
    summary = log_variant(ctx, compressed, exported, quality, profiled)

By hand (no sweep), ``prepare_variant("experiments/x.yaml", "int8")`` plans that one variant itself.
The code lives in ``workbench.variant`` (one module per concern); this module is the import surface.
"""

from __future__ import annotations

from workbench.variant.build import compress_variant, convert_variant
from workbench.variant.context import VariantContext, calibration_samples, parse_variant_json, prepare_variant
from workbench.variant.evaluate import evaluate_variant
from workbench.variant.log import log_variant, run_variant
from workbench.variant.profiling import profile_variant, quality_failures, side_by_side
from workbench.variant.records import Exported, Profiled, Quality

__all__ = ["Exported", "Profiled", "Quality", "VariantContext", "calibration_samples", "compress_variant",
           "convert_variant", "evaluate_variant", "log_variant", "parse_variant_json", "prepare_variant",
           "profile_variant", "quality_failures", "run_variant", "side_by_side"]
