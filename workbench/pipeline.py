"""One variant, step by step: the functions the variant notebook calls, one per cell.

    ctx = prepare_variant("experiments/digits_quick.yaml", "int8")   # spec, data, baseline, MLflow run
    model = compress_variant(ctx)                                          # training-time steps (Keras)
    tflite = convert_variant(ctx, model)                             # .tflite file
    quality = evaluate_variant(ctx, tflite)                          # accuracy etc. on LiteRT
    prof = profile_variant(ctx, tflite)                              # latency/memory in a fresh process
    summary = log_variant(ctx, tflite, quality, prof)                # metrics, artifacts, LoggedModel
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench import provenance
from workbench.baseline import Baseline, ensure_baseline
from workbench.data import Dataset, load_dataset
from workbench.files import atomic_write, file_lock
from workbench.profile import ProfileResult, profile
from workbench.spec import ExperimentSpec, VariantSpec, load_experiment, variant_id
from workbench.tflite_model import (
    TfliteModel,
    accuracy,
    agreement,
    gzip_size,
    max_unique_per_channel,
    max_unique_values,
    sparsity,
)

TAG_ROLE = "workbench.role"
#: a variant "pays off" in speed only if its p50 is both outside the noise of float's and >= 5% lower
MIN_SPEEDUP = 1.05


@dataclass
class VariantContext:
    """Everything one variant's cells share. Mutable only through ``info`` and ``notes``."""

    experiment: ExperimentSpec
    experiment_file: str
    variant: VariantSpec
    variant_id: str
    dataset: Dataset
    baseline: Baseline
    work_dir: Path
    out_dir: Path
    root: Path
    tracker: Any = None
    experiment_id: str = ""
    run_id: str = ""
    owns_run: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # facts measured along the way (param counts, ...)
    notes: list[str] = field(default_factory=list)  # what could not be done, said plainly

    def note(self, text: str) -> None:
        self.notes.append(text)


def variant_params(ctx: VariantContext) -> dict[str, Any]:
    from workbench.tracking import flatten

    spec = {
        "variant": ctx.variant.model_dump(mode="json"),
        "baseline": ctx.experiment.baseline.model_dump(mode="json"),
        "target": ctx.experiment.target.model_dump(mode="json"),
    }
    params = flatten(spec)
    params["dataset.fingerprint"] = ctx.dataset.fingerprint
    params["experiment.file"] = ctx.experiment_file
    return params


def run_tags(ctx: VariantContext, sweep_id: str) -> dict[str, str]:
    from workbench import tracking

    tags = {
        tracking.TAG_KIND: "variant",
        tracking.TAG_VARIANT: ctx.variant_id,
        tracking.TAG_VARIANT_NAME: ctx.variant.name,
        tracking.TAG_TECHNIQUE: ctx.variant.technique,
        TAG_ROLE: "baseline" if is_reference(ctx.variant) else "variant",
        **provenance.tags(ctx.experiment.target.threads),
    }
    if sweep_id:
        tags[tracking.TAG_SWEEP] = sweep_id
    return tags


def is_reference(variant: VariantSpec) -> bool:
    """The float32 variant with no steps is the float baseline itself, measured like any variant."""
    return not variant.steps and variant.quantization == "float32"


def parse_variant_json(text: str) -> VariantSpec:
    """A variant spec given as JSON text (explorer, matrix tasks); SpecError on bad input."""
    from pydantic import ValidationError

    from workbench.errors import SpecError
    from workbench.spec import format_validation_error

    try:
        return VariantSpec.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SpecError(f"variant_json: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValidationError as exc:
        raise SpecError(format_validation_error("variant_json", exc)) from None


def prepare_variant(experiment: str | Path | ExperimentSpec, variant: str | VariantSpec, work_dir: str | Path = ".workbench",
                    run_id: str = "", parent_run_id: str = "", sweep_id: str = "", tracking_uri: str = "",
                    root: str | Path | None = None, track: bool = True) -> VariantContext:
    """Validate the spec, load data, get the (cached) baseline and attach the MLflow run.

    With ``run_id`` (a sweep created the run) the run is only written to; without it a run is created
    here and ended by ``log_variant``.
    """
    root_p = Path(root or Path.cwd()).resolve()
    if isinstance(experiment, ExperimentSpec):
        spec, exp_file = experiment, "<in-memory>"
    else:
        spec, exp_file = load_experiment(experiment), str(experiment)
    if isinstance(variant, str) and variant.lstrip().startswith("{"):
        variant = parse_variant_json(variant)
    v = variant if isinstance(variant, VariantSpec) else spec.variant(variant)
    if isinstance(variant, VariantSpec):
        v = v.model_copy(update={"calibration_samples": v.calibration_samples or spec.calibration_samples})
    dataset = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, root_p)
    vid = variant_id(v, spec.baseline, dataset.fingerprint, spec.target, spec.profiles)
    wdir = (root_p / work_dir).resolve() if not Path(work_dir).is_absolute() else Path(work_dir)
    baseline = ensure_baseline(spec, dataset, wdir, root_p)
    out_dir = wdir / "variants" / f"{v.name}-{vid[:12]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = VariantContext(spec, exp_file, v, vid, dataset, baseline, wdir, out_dir, root_p)
    if track:
        from workbench.tracking import Tracker

        ctx.tracker = Tracker(tracking_uri or None, root_p)
        ctx.tracker.check()
        ctx.experiment_id = ctx.tracker.experiment_id(spec.name)
        if run_id:
            ctx.run_id = run_id
            ctx.tracker.set_tags(run_id, run_tags(ctx, sweep_id))
        else:
            ctx.run_id = ctx.tracker.start_run(ctx.experiment_id, v.name, run_tags(ctx, sweep_id), parent_run_id or None)
            ctx.owns_run = True
        ctx.tracker.log(ctx.run_id, params=variant_params(ctx))
        ctx.tracker.log_history(ctx.run_id, baseline.history, prefix="baseline_")
    return ctx


def compress_variant(ctx: VariantContext) -> Any:
    """Apply the variant's training-time steps to a fresh copy of the baseline; returns a Keras model."""
    from workbench.compress.apply import apply_steps
    from workbench.models import count_params, seed_everything

    seed_everything(ctx.experiment.baseline.training.seed)  # same spec, same fine-tuning, same numbers
    model = ctx.baseline.load_model()
    ctx.info["params_before"] = count_params(model)
    model, history = apply_steps(model, ctx)
    ctx.info["params_after"] = count_params(model)
    if history and ctx.tracker:
        ctx.tracker.log_history(ctx.run_id, history)
    return model


def calibration_samples(ctx: VariantContext) -> np.ndarray:
    """A seeded random draw of ``calibration_samples`` training samples (recorded as a param)."""
    n = min(ctx.variant.calibration_samples or ctx.experiment.calibration_samples, len(ctx.dataset.x_train))
    rng = np.random.default_rng(ctx.experiment.baseline.training.seed)
    idx = rng.choice(len(ctx.dataset.x_train), size=n, replace=False)
    return ctx.dataset.x_train[np.sort(idx)]


def convert_variant(ctx: VariantContext, model: Any) -> Path:
    """Convert with the variant's quantization mode; writes ``model.tflite`` into the variant folder."""
    from workbench.convert import convert

    if is_reference(ctx.variant):
        content = ctx.baseline.tflite_path.read_bytes()  # the baseline's own float file: same bytes
    elif ctx.variant.keep_float:
        content = _convert_selective(ctx, model)
    else:
        qat = any(s.technique == "qat" for s in ctx.variant.steps)
        content = convert(model, ctx.variant.quantization, calibration_samples(ctx), qat=qat)
    path = ctx.out_dir / "model.tflite"
    atomic_write(path, content)
    return path


def _convert_selective(ctx: VariantContext, model: Any) -> bytes:
    """int8 with the ``keep_float`` most quantization-sensitive layers left in float32 (measured on LiteRT)."""
    from workbench.analysis.sensitivity import most_sensitive, quant_sensitivity
    from workbench.convert import convert, convert_selective

    calib = calibration_samples(ctx)
    rows = quant_sensitivity(convert(model, "float32"), convert(model, "int8", calib), ctx.dataset.x_test[:64])
    keep = most_sensitive(rows, ctx.variant.keep_float)
    ctx.info["sensitivity"] = rows
    ctx.info["kept_float_layers"] = [r["layer"] for r in keep]
    ctx.note(f"selective int8: kept in float32 the {len(keep)} most sensitive layer(s): "
             + ", ".join(f"{r['layer']} (RMSE/scale {r['rmse_over_scale']:.2f})" for r in keep))
    return convert_selective(model, calib, [r["node"] for r in keep], int8_io=ctx.variant.quantization == "int8_io")


def evaluate_variant(ctx: VariantContext, tflite: Path) -> dict[str, float]:
    """Accuracy, agreement, sizes, ratios and sparsity, all computed from the .tflite on LiteRT."""
    content = tflite.read_bytes()
    m = TfliteModel(content, source=str(tflite))
    logits = m.predict(ctx.dataset.x_test)
    acc = accuracy(logits, ctx.dataset.y_test)
    kernels = m.kernel_tensors()
    size, size_gz = len(content), gzip_size(content)
    quality = {
        "accuracy": acc,
        "accuracy_delta": (acc - ctx.baseline.accuracy) * 100.0,
        "agreement": agreement(logits, ctx.baseline.top1),
        "size_bytes": float(size),
        "size_gzip_bytes": float(size_gz),
        "compression_ratio": ctx.baseline.size_bytes / size,
        "compression_ratio_gzip": ctx.baseline.size_gzip_bytes / size_gz,
        "sparsity": sparsity(kernels),
        "max_unique_values": float(max_unique_values(kernels)),
        "max_unique_per_channel": float(max_unique_per_channel(kernels)),
        "params_before": float(ctx.info.get("params_before", ctx.baseline.params)),
        "params_after": float(ctx.info.get("params_after", ctx.baseline.params)),
    }
    ctx.info["io_types"] = {"input": m.inputs[0].dtype, "output": m.outputs[0].dtype}
    ctx.info["ops"] = sorted(set(m.op_names()))
    if "student_params" in ctx.info:
        quality["params_ratio"] = ctx.info["student_params"] / ctx.info["teacher_params"]
    plain = ctx.info.pop("label_only_model", None)
    if plain is not None:
        quality.update(_label_only_comparison(ctx, plain, acc))
    return quality


def _label_only_comparison(ctx: VariantContext, plain: Any, acc: float) -> dict[str, float]:
    """The student trained from labels alone, exported and run exactly like the distilled one."""
    from workbench.convert import convert

    content = convert(plain, ctx.variant.quantization, calibration_samples(ctx))
    plain_acc = accuracy(TfliteModel(content).predict(ctx.dataset.x_test), ctx.dataset.y_test)
    gain = (acc - plain_acc) * 100
    verdict = "helped" if gain > 0 else ("made no difference" if gain == 0 else "hurt")
    ctx.note(f"distillation {verdict}: {acc:.4f} distilled vs {plain_acc:.4f} label-only student "
             f"({gain:+.2f} points; same seed, same epochs, same export)")
    return {"label_only_accuracy": plain_acc, "distill_gain_pts": gain}


def _measure(ctx: VariantContext, tflite: Path, target: Any) -> ProfileResult:
    """One profile with real test samples as inputs (call with the profiling lock held)."""
    return profile(tflite, target, ctx.dataset.x_test[: max(target.batch * 8, 32)])


def profile_variant(ctx: VariantContext, tflite: Path) -> ProfileResult:
    """Latency and memory on the target, in a fresh process; the raw result is saved as profile.json.
    Also says plainly when the variant is not faster than float here, or when ops left the delegate.

    The float baseline is profiled right before the variant, under the same lock, so both numbers see
    the same machine state (a cached baseline profile taken under other load would bias the comparison).
    """
    target = ctx.experiment.target
    # one lock hold: parallel sweep workers never profile at the same time (shared cores and caches)
    with file_lock(ctx.work_dir / "locks" / "profile.lock"):
        base_result = None if is_reference(ctx.variant) else _measure(ctx, ctx.baseline.tflite_path, target)
        result = _measure(ctx, tflite, target)
        # the experiment's extra `profiles` (threads, XNNPACK, kernels, API, batch, ...) on the same file
        axes = {name: _measure(ctx, tflite, t) for name, t in ctx.experiment.profile_targets().items()}
    atomic_write(ctx.out_dir / "profile.json", result.to_json())
    for name, axis in axes.items():
        atomic_write(ctx.out_dir / f"profile-{name}.json", axis.to_json())
    ctx.info["profile_axes"] = axes
    lat = result.latency
    if lat.noisy:
        ctx.note(f"latency spread is high (p90/p50 = {lat.p90 / lat.p50:.2f}): the machine was busy; "
                 "treat the latency with care")
    fallback = result.raw.get("fallback_ops", [])
    if fallback and target.xnnpack and target.kernels == "optimized":
        ctx.note(f"{len(fallback)} op(s) ran on LiteRT's builtin kernels, not the XNNPACK delegate: "
                 f"{', '.join(sorted(set(fallback)))}")
    if base_result is None:
        ctx.info["paid_off"] = "reference"
        ctx.info["speedup_vs_float"] = 1.0
        return result
    atomic_write(ctx.out_dir / "profile-float-baseline.json", base_result.to_json())
    base = base_result.latency
    ctx.info["speedup_vs_float"] = base.p50 / lat.p50
    if lat.p50_ci_high < base.p50_ci_low and base.p50 / lat.p50 >= MIN_SPEEDUP:
        ctx.info["paid_off"] = "true"
    else:
        ctx.info["paid_off"] = "false"
        ctx.note(f"not faster than float32 on this target: p50 {lat.p50:.4f} ms vs {base.p50:.4f} ms "
                 f"(x{base.p50 / lat.p50:.2f})")
    return result


def log_variant(ctx: VariantContext, tflite: Path, quality: dict[str, float], prof: ProfileResult) -> dict[str, Any]:
    """Log metrics, the .tflite, profile JSON and a LoggedModel; end the run if this context created it."""
    metrics = {**quality, **prof.metrics()}
    axes: dict[str, ProfileResult] = ctx.info.pop("profile_axes", {})
    for name, extra in axes.items():
        metrics.update({f"{k}.{name}": v for k, v in extra.metrics().items()})
    if "speedup_vs_float" in ctx.info:
        metrics["speedup_vs_float"] = float(ctx.info["speedup_vs_float"])
    summary = {"variant": ctx.variant.name, "variant_id": ctx.variant_id, "technique": ctx.variant.technique,
               **metrics, "notes": list(ctx.notes), "io_types": ctx.info.get("io_types"), "run_id": ctx.run_id}
    atomic_write(ctx.out_dir / "summary.json", json.dumps(summary, indent=1, default=str))
    if ctx.tracker is None:
        return summary
    tr = ctx.tracker
    axis_params = {f"{name}.{k}": v for name, extra in axes.items() for k, v in extra.params().items()}
    tr.log(ctx.run_id, params={**prof.params(), **axis_params}, metrics=metrics, tags={
        "workbench.noisy": str(prof.latency.noisy).lower(),
        "workbench.paid_off": str(ctx.info.get("paid_off", "unknown")),
        "workbench.fallback_ops": ",".join(prof.raw.get("fallback_ops", [])) or "none",
        "workbench.io_types": json.dumps(ctx.info.get("io_types")),
        "workbench.ops": ",".join(ctx.info.get("ops", [])),
        "workbench.device": json.dumps(prof.raw.get("device", {})),
        **({"mlflow.note.content": "\n".join(ctx.notes)} if ctx.notes else {}),
    })
    tr.log_artifact(ctx.run_id, tflite, "model")
    tr.log_artifact(ctx.run_id, ctx.out_dir / "profile.json", "profile")
    for name in axes:
        tr.log_artifact(ctx.run_id, ctx.out_dir / f"profile-{name}.json", "profile")
    if (ctx.out_dir / "profile-float-baseline.json").exists():
        tr.log_artifact(ctx.run_id, ctx.out_dir / "profile-float-baseline.json", "profile")
    tr.log_artifact(ctx.run_id, ctx.out_dir / "summary.json")
    info = {k: v for k, v in ctx.info.items() if k not in ("io_types", "ops", "paid_off", "speedup_vs_float")}
    if info:
        tr.log_text(ctx.run_id, json.dumps(info, indent=1, default=str), "compress_info.json")
    model_tags = {"workbench.variant_id": ctx.variant_id, "workbench.technique": ctx.variant.technique}
    tr.log_model(ctx.experiment_id, ctx.run_id, ctx.variant.name, tflite,
                 {"quantization": ctx.variant.quantization, "technique": ctx.variant.technique}, metrics, model_tags)
    if ctx.owns_run:
        tr.end_run(ctx.run_id, "FINISHED")
    return summary


def run_variant(experiment: str | Path | ExperimentSpec, variant: str | VariantSpec, **kwargs: Any) -> dict[str, Any]:
    """All six steps in-process (explorer, tests). Returns the summary."""
    ctx = prepare_variant(experiment, variant, **kwargs)
    try:
        model = compress_variant(ctx)
        tflite = convert_variant(ctx, model)
        quality = evaluate_variant(ctx, tflite)
        prof = profile_variant(ctx, tflite)
        return log_variant(ctx, tflite, quality, prof)
    except BaseException as exc:
        if ctx.tracker is not None and ctx.owns_run:
            ctx.tracker.set_tags(ctx.run_id, {"workbench.failure": f"{type(exc).__name__}: {exc}"[:500]})
            ctx.tracker.end_run(ctx.run_id, "FAILED")
        raise
