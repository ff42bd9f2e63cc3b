"""One variant, step by step: the functions the variant notebook calls, one per cell. Each cell returns a
record the next cells take as an argument; nothing is written into a shared context.

    ctx = prepare_variant(plan="plan.json", variant_id="3f2a...")     # planned spec, data, baseline, run
    compressed = compress_variant(ctx)                                # training-time steps -> ChainResult
    exported = convert_variant(ctx, compressed)                       # .tflite file -> Exported
    quality = evaluate_variant(ctx, exported, compressed)             # accuracy etc. on LiteRT
    profiled = profile_variant(ctx, exported)                         # latency/memory in a fresh process
    summary = log_variant(ctx, compressed, exported, quality, profiled)

By hand (no sweep), ``prepare_variant("experiments/x.yaml", "int8")`` plans that one variant itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.analysis.significance import accuracy_metrics
from workbench.baseline import Baseline, ensure_baseline
from workbench.catalog import display_name, runtime
from workbench.data import Dataset, load_dataset
from workbench.errors import DataError, ModelFileError, SpecError
from workbench.files import atomic_write, file_lock
from workbench.model_files import model_fingerprint, sha256_file
from workbench.paths import project_root
from workbench.paths import resolve as resolve_path
from workbench.profile import ProfileResult, profile_model
from workbench.profile.paired import Paired, measure_rounds
from workbench.profile.stats import Ratio
from workbench.runtimes import (
    RuntimeFiles,
    Sources,
    axis_metrics,
    baseline_file,
    formats_needed,
    make_files,
    profile_axes,
    runtime_notes,
    runtime_quality,
    runtimes_of,
    verdict,
)
from workbench.spec import ExperimentSpec, VariantSpec, format_validation_error, load_experiment
from workbench.spec.plan import Plan, PlannedVariant, make_plan
from workbench.tflite_model import (
    TfliteModel,
    accuracy,
    agreement,
    gzip_size,
    max_unique_per_channel,
    max_unique_values,
    sparsity,
)

if TYPE_CHECKING:  # workbench.compress imports TensorFlow: only the type, at check time
    from workbench.compress import ChainResult



@dataclass(frozen=True)
class VariantContext:
    """What every cell of one variant reads: the plan and its variant, the data, the baseline, the run."""

    plan: Plan
    planned: PlannedVariant
    dataset: Dataset
    baseline: Baseline
    work_dir: Path
    out_dir: Path
    root: Path
    tracker: Any = None
    experiment_id: str = ""
    run_id: str = ""
    owns_run: bool = False

    @property
    def experiment(self) -> ExperimentSpec:
        return self.plan.experiment

    @property
    def variant(self) -> VariantSpec:
        return self.planned.spec

    @property
    def variant_id(self) -> str:
        return self.planned.id


@dataclass(frozen=True)
class Exported:
    """The deployable file and what the conversion decided."""

    path: Path
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    sha256: str = ""  # of the bytes written: evaluation, profiling and logging must see this very file
    others: dict[str, Path] = field(default_factory=dict)  # format -> model.<format>, for the runtimes that run it
    other_errors: dict[str, str] = field(default_factory=dict)  # format -> why it could not be made

    @property
    def files(self) -> RuntimeFiles:
        """The file each runtime runs (the .tflite, or the format its catalogue record names)."""
        return RuntimeFiles(self.path, self.others, self.other_errors)


def _same_file(exported: Exported, content: bytes | None = None) -> str:
    """The SHA-256 of the exported file (or of ``content`` read from it); ModelFileError when it is no
    longer the file the conversion wrote, so a number is never logged for other bytes than measured."""
    actual = hashlib.sha256(content).hexdigest() if content is not None else sha256_file(exported.path)
    if exported.sha256 and actual != exported.sha256:
        raise ModelFileError(f"{exported.path} changed after it was converted (sha256 {exported.sha256[:12]}, now "
                             f"{actual[:12]}); something else writes into this variant folder")
    return actual


@dataclass(frozen=True)
class Quality:
    """Metrics computed by running the exported file on LiteRT, and what it holds."""

    metrics: dict[str, float]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    failed_runtimes: dict[str, str] = field(default_factory=dict)  # runtime -> why it cannot run the variant


@dataclass(frozen=True)
class Profiled:
    """The variant's profile, the extra profile axes, and the float baseline measured beside it (same rounds)."""

    result: ProfileResult
    axes: dict[str, ProfileResult]
    float_result: ProfileResult | None
    paid_off: str  # "true" | "false" | "reference"
    speedup_vs_float: float
    notes: tuple[str, ...] = ()
    failed_axes: dict[str, str] = field(default_factory=dict)  # axis name -> why it could not be measured
    axis_float_results: dict[str, ProfileResult] = field(default_factory=dict)  # float beside each runtime axis
    speedup: Ratio | None = None  # float p50 / variant p50 per round, with its interval (None: the reference)
    axis_speedups: dict[str, Ratio] = field(default_factory=dict)  # the same per runtime axis
    rounds: int = 1  # interleaved profiling rounds


def parse_variant_json(text: str) -> VariantSpec:
    """A variant spec given as JSON text (explorer, ad-hoc runs); SpecError on bad input."""
    from pydantic import ValidationError

    try:
        return VariantSpec.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SpecError(f"variant_json: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValidationError as exc:
        raise SpecError(format_validation_error("variant_json", exc)) from None


def _hand_plan(experiment: str | Path | ExperimentSpec, variant: str | VariantSpec, fingerprint: str,
               model_fp: str = "") -> Plan:
    """The plan of one variant run by hand (no sweep): the same resolution a sweep does."""
    if isinstance(experiment, ExperimentSpec):
        spec, source = experiment, "<in-memory>"
    else:
        spec, source = load_experiment(experiment), str(experiment)
    if isinstance(variant, str) and variant.lstrip().startswith("{"):
        variant = parse_variant_json(variant)
    chosen = variant if isinstance(variant, VariantSpec) else spec.variant(variant)
    return make_plan(spec, fingerprint, source, variants=[chosen], model_fingerprint=model_fp)


def _read_plan(plan: str | Path | Plan) -> Plan:
    if isinstance(plan, Plan):
        return plan
    try:
        text = Path(plan).read_text()
    except OSError as exc:
        raise SpecError(f"plan {plan}: cannot read ({exc.strerror})") from None
    return Plan.from_json(text, source=str(plan))


def prepare_variant(experiment: str | Path | ExperimentSpec = "", variant: str | VariantSpec = "", *,
                    plan: str | Path | Plan = "", variant_id: str = "", work_dir: str | Path = ".workbench",
                    run_id: str = "", parent_run_id: str = "", sweep_id: str = "", tracking_uri: str = "",
                    root: str | Path | None = None, track: bool = True) -> VariantContext:
    """Resolve the variant, load and check the data, get the (cached) baseline and attach the MLflow run.

    Under a sweep, ``plan`` + ``variant_id`` say exactly what to run; the dataset and a user's model file
    must still have the fingerprints the plan recorded (DataError / ModelFileError otherwise, before any
    training, without importing TensorFlow). By hand, ``experiment`` +
    ``variant`` (a name, a VariantSpec or its JSON) are planned here. With ``run_id`` (a sweep created the
    run, tags included) the run is only written to; without it a run is created here and ended by
    ``log_variant``. ``root`` anchors relative paths (experiment, work_dir, dataset files) and the embedded
    store: by default the sweep's working directory under a plan (papermill ``--cwd``), else the project
    root (``workbench.paths.project_root``), so a notebook whose kernel starts in ``notebooks/`` works.
    """
    root_p = Path(root).resolve() if root else (Path.cwd().resolve() if plan else project_root())
    if isinstance(experiment, str | Path) and str(experiment):
        experiment = resolve_path(experiment, root_p)
    if plan:
        the_plan = _read_plan(plan)
        planned = the_plan.variant(variant_id)
        spec = the_plan.experiment
        model_fp = model_fingerprint(spec.baseline.model, root_p)  # no TensorFlow: checked before any cost
        if model_fp != the_plan.model_fingerprint:
            raise ModelFileError(f"model file '{spec.baseline.model}' changed since the sweep planned it (sha256 "
                                 f"{the_plan.model_fingerprint[:12] or 'none'}, now {model_fp[:12]}); its numbers "
                                 "would not match the plan: run the sweep again to re-plan")
        dataset = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, root_p)
        if dataset.fingerprint != the_plan.dataset_fingerprint:
            raise DataError(f"dataset '{spec.baseline.dataset}' changed since the sweep planned it (fingerprint "
                            f"{the_plan.dataset_fingerprint[:12]}, now {dataset.fingerprint[:12]}); its numbers would "
                            "not match the plan: run the sweep again to re-plan")
    else:
        if not experiment or not variant:
            raise SpecError("prepare_variant: give plan + variant_id (a sweep), or experiment + variant (by hand)")
        spec = experiment if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
        model_fp = model_fingerprint(spec.baseline.model, root_p)
        dataset = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, root_p)
        the_plan = _hand_plan(spec if isinstance(experiment, ExperimentSpec) else experiment, variant,
                              dataset.fingerprint, model_fp)
        planned = the_plan.variants[0]
    wdir = Path(work_dir) if Path(work_dir).is_absolute() else (root_p / work_dir).resolve()
    baseline = ensure_baseline(the_plan.experiment, dataset, wdir, root_p, the_plan.model_fingerprint)
    out_dir = wdir / "variants" / f"{planned.name}-{planned.id[:12]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not track:
        return VariantContext(the_plan, planned, dataset, baseline, wdir, out_dir, root_p)
    from workbench import tracking

    tracker = tracking.Tracker(tracking_uri or None, root_p)
    tracker.check()
    exp_id = tracker.experiment_id(the_plan.experiment.name)
    owns = not run_id
    if owns:
        tags = tracking.variant_run_tags(the_plan, planned, sweep_id)
        run_id = tracker.start_run(exp_id, tracking.variant_run_name(planned.name, sweep_id), tags,
                                   parent_run_id or None)
    tracker.log(run_id, params=tracking.variant_run_params(the_plan, planned))
    tracker.log_dataset(run_id, the_plan.experiment.baseline.dataset, the_plan.dataset_fingerprint)
    if planned.role == "baseline":  # the float model's own curves, once: not copied into every variant's charts
        tracker.log_history(run_id, baseline.history, prefix="baseline_")
    return VariantContext(the_plan, planned, dataset, baseline, wdir, out_dir, root_p, tracker, exp_id, run_id, owns)


def compress_variant(ctx: VariantContext) -> ChainResult:
    """Apply the variant's training-time steps to a fresh copy of the baseline; returns a ChainResult."""
    from workbench.compress import apply_steps

    result = apply_steps(ctx.baseline.load_model(), ctx.variant.steps, ctx.dataset,
                         ctx.experiment.baseline.training)
    if result.history and ctx.tracker:
        ctx.tracker.log_history(ctx.run_id, result.history)
    return result


def calibration_samples(ctx: VariantContext) -> np.ndarray:
    """A seeded random draw of ``calibration_samples`` training samples (recorded as a param)."""
    n = min(ctx.variant.calibration_samples or ctx.experiment.calibration_samples, len(ctx.dataset.x_train))
    rng = np.random.default_rng(ctx.experiment.baseline.training.seed)
    idx = rng.choice(len(ctx.dataset.x_train), size=n, replace=False)
    return ctx.dataset.x_train[np.sort(idx)]


def convert_variant(ctx: VariantContext, compressed: ChainResult) -> Exported:
    """Convert with the variant's quantization mode; writes ``model.tflite`` into the variant folder."""
    from workbench.convert import convert

    facts: dict[str, Any] = {}
    notes: tuple[str, ...] = ()
    if ctx.planned.role == "baseline":
        content = ctx.baseline.tflite_path.read_bytes()  # the baseline's own float file: same bytes
        if ctx.baseline.tflite_sha256 and hashlib.sha256(content).hexdigest() != ctx.baseline.tflite_sha256:
            raise ModelFileError(f"the cached float baseline {ctx.baseline.tflite_path} changed after it was verified; "
                                 "run again (a corrupt cache is moved aside and retrained)")
    elif ctx.variant.keep_float:
        content, facts, notes = _convert_selective(ctx, compressed.model)
    else:
        qat = any(s.technique == "qat" for s in ctx.variant.steps)
        content = convert(compressed.model, ctx.variant.quantization, calibration_samples(ctx), qat=qat)
    path = ctx.out_dir / "model.tflite"
    atomic_write(path, content)
    others, errors, other_notes = _other_files(ctx, compressed, path)
    return Exported(path, facts, (*notes, *other_notes), hashlib.sha256(content).hexdigest(), others, errors)


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


def evaluate_variant(ctx: VariantContext, exported: Exported, compressed: ChainResult) -> Quality:
    """Accuracy, agreement, sizes, ratios and sparsity, all computed from the .tflite on LiteRT."""
    content = exported.path.read_bytes()
    _same_file(exported, content)
    m = TfliteModel(content, source=str(exported.path))
    logits = m.predict(ctx.dataset.x_test)
    acc = accuracy(logits, ctx.dataset.y_test)
    kernels = m.kernel_tensors()
    size, size_gz = len(content), gzip_size(content)
    metrics = {
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
        "params_before": float(compressed.params_before),
        "params_after": float(compressed.params_after),
        # how sure the accuracy is (Wilson over the test split) and whether its change against float is real
        # (McNemar on per-sample correctness against the float model's top-1, same samples)
        **accuracy_metrics(np.argmax(logits, axis=1), ctx.baseline.top1, ctx.dataset.y_test),
    }
    facts = {"io_types": {"input": m.inputs[0].dtype, "output": m.outputs[0].dtype}, "ops": sorted(set(m.op_names()))}
    notes: tuple[str, ...] = ()
    if compressed.params_ratio is not None:
        metrics["params_ratio"] = compressed.params_ratio
    plain = compressed.companions.get("label_only")
    if plain is not None:
        extra, note = _label_only_comparison(ctx, plain, acc)
        metrics.update(extra)
        notes = (note,)
    failed = _evaluate_runtimes(ctx, exported, metrics)
    notes = (*notes, *(f"{display_name(rt)} cannot run this variant: {why}" for rt, why in failed.items()))
    return Quality(metrics, facts, notes, failed)


def _evaluate_runtimes(ctx: VariantContext, exported: Exported, metrics: dict[str, float]) -> dict[str, str]:
    """Accuracy on every other runtime the targets use (``accuracy.<axis>``, ...); on a main target that is
    not LiteRT, the headline metrics become that runtime's (sizes and ratios of the file it runs, against
    the float baseline's file for the same runtime). Returns the runtimes that cannot run the variant."""
    main, axes = ctx.experiment.target_for(ctx.variant), ctx.experiment.profile_targets(ctx.variant)
    others = [rt for rt in runtimes_of(main, axes) if rt != "litert"]
    if not others:
        return {}
    rq = runtime_quality(exported.files, others, ctx.dataset.x_test, ctx.dataset.y_test, ctx.baseline.top1,
                         ctx.baseline.accuracy)
    if main.runtime != "litert":
        if main.runtime in rq.failed:
            raise ModelFileError(rq.failed[main.runtime])
        ours = rq.metrics[main.runtime]
        base = _float_file(ctx, main.runtime).read_bytes()
        metrics.update({**ours, "compression_ratio": len(base) / ours["size_bytes"],
                        "compression_ratio_gzip": gzip_size(base) / ours["size_gzip_bytes"]})
    metrics.update(axis_metrics(rq, main.runtime, axes))
    for fmt, path in exported.others.items():  # onnx_size_bytes, ...
        metrics[f"{fmt.lstrip('.')}_size_bytes"] = float(path.stat().st_size)
    return rq.failed


def _float_file(ctx: VariantContext, runtime: str) -> Path:
    """The float baseline's file for ``runtime`` (another format than .tflite is made once and cached)."""
    return baseline_file(ctx.baseline.dir, ctx.baseline.tflite_path, runtime, ctx.baseline.load_model)


def _label_only_comparison(ctx: VariantContext, plain: Any, acc: float) -> tuple[dict[str, float], str]:
    """The student trained from labels alone, exported and run exactly like the distilled one."""
    from workbench.convert import convert

    content = convert(plain, ctx.variant.quantization, calibration_samples(ctx))
    plain_acc = accuracy(TfliteModel(content).predict(ctx.dataset.x_test), ctx.dataset.y_test)
    gain = (acc - plain_acc) * 100
    verdict = "helped" if gain > 0 else ("made no difference" if gain == 0 else "hurt")
    note = (f"distillation {verdict}: {acc:.4f} distilled vs {plain_acc:.4f} label-only student "
            f"({gain:+.2f} points; same seed, same epochs, same export)")
    return {"label_only_accuracy": plain_acc, "distill_gain_pts": gain}, note


def _measure(ctx: VariantContext, tflite: Path, target: Any) -> ProfileResult:
    """One profile with real test samples as inputs (call with the profiling lock held)."""
    return profile_model(tflite, target, ctx.dataset.x_test[: max(target.batch * 8, 32)])


def profile_variant(ctx: VariantContext, exported: Exported) -> Profiled:
    """Latency and memory on the target, in fresh processes; the raw results are saved as JSON.
    Also says plainly when the variant is not faster than float here, or when ops left the delegate.

    The variant and the float baseline are profiled in ``rounds`` interleaved rounds (A B, B A, ...: each a
    fresh process with 1/R of the timing budget) under one lock hold, so the speed-up is a ratio measured
    side by side with an interval over rounds, and the float figures quoted beside the variant are these.
    """
    target = ctx.experiment.target_for(ctx.variant)
    reference = ctx.planned.role == "baseline"
    axis_targets = ctx.experiment.profile_targets(ctx.variant)
    files = exported.files
    rounds = ctx.experiment.rounds

    def measure(path: Path, t: Any) -> ProfileResult:
        return _measure(ctx, path, t)

    # one lock hold: parallel sweep workers never profile at the same time (shared cores and caches)
    with file_lock(ctx.work_dir / "locks" / "profile.lock"):
        main = measure_rounds(measure, files.for_runtime(target.runtime),
                              None if reference else _float_file(ctx, target.runtime), target, rounds)
        # the experiment's extra `profiles` (runtime, threads, XNNPACK, kernels, API, batch, ...) on this variant
        measured = profile_axes(measure, files, target.runtime, axis_targets, quality_failures(exported, axis_targets),
                                None if reference else (lambda rt: _float_file(ctx, rt)), rounds)
    result, axes = main.subject, measured.results
    atomic_write(ctx.out_dir / "profile.json", result.to_json())
    for name, axis in axes.items():
        atomic_write(ctx.out_dir / f"profile-{name}.json", axis.to_json())
    for name, axis in measured.float_results.items():
        atomic_write(ctx.out_dir / f"profile-{name}-float-baseline.json", axis.to_json())
    notes = []
    lat = result.latency
    if lat.noisy:
        notes.append(f"latency spread is high (p90/p50 = {lat.p90 / lat.p50:.2f}): the machine was busy; "
                     "treat the latency with care")
    fallback = result.ops.fallback
    if fallback and target.xnnpack and target.kernels == "optimized":
        notes.append(f"{len(fallback)} op(s) ran on LiteRT's builtin kernels, not the XNNPACK delegate: "
                     f"{', '.join(sorted(set(fallback)))}")
    notes += runtime_notes(target, main.speedup, axis_targets, measured, [result, *axes.values()],
                           ctx.variant.quantization)
    if main.reference is None or main.speedup is None:
        return Profiled(result, axes, None, "reference", 1.0, tuple(notes), measured.failed, rounds=rounds)
    atomic_write(ctx.out_dir / "profile-float-baseline.json", main.reference.to_json())
    paid_off, word = verdict(main.speedup)
    if not paid_off:
        lead = "not faster than" if word in ("slower", "no measurable difference") else "faster by less than 5% than"
        notes.append(f"{lead} float32 on this target ({word}): {side_by_side(main)}")
    return Profiled(result, axes, main.reference, str(paid_off).lower(), main.speedup.value, tuple(notes),
                    measured.failed, measured.float_results, main.speedup, measured.speedups, rounds)


def side_by_side(paired: Paired) -> str:
    """"p50 3.30 ms vs float32 7.20 ms measured side by side (x2.18, 95% interval 2.05-2.31 over 5 rounds)"."""
    sub, ref, s = paired.subject.latency, paired.reference, paired.speedup
    if ref is None or s is None:
        return f"p50 {sub.p50:.4g} ms"
    interval = (f", 95% interval {s.ci_low:.2f}-{s.ci_high:.2f} over {s.rounds} rounds" if s.ci_low == s.ci_low
                else f", {s.rounds} round")
    return (f"p50 {sub.p50:.4g} ms vs float32 {ref.latency.p50:.4g} ms measured side by side "
            f"(x{s.value:.2f}{interval})")


def quality_failures(exported: Exported, axes: dict[str, Any]) -> dict[str, str]:
    """Runtimes that cannot run the variant because it has no file for them (its conversion failed)."""
    return {t.runtime: f"no {fmt}: {exported.other_errors[fmt]}" for t in axes.values()
            if (fmt := runtime(t.runtime).file_format) in exported.other_errors}


def log_variant(ctx: VariantContext, compressed: ChainResult, exported: Exported, quality: Quality,
                profiled: Profiled) -> dict[str, Any]:
    """Log metrics, the .tflite, profile JSON and a LoggedModel; end the run if this context created it."""
    prof = profiled.result
    metrics = {**quality.metrics, **prof.metrics(), "speedup_vs_float": float(profiled.speedup_vs_float)}
    if profiled.speedup is not None:  # the float figures measured in the same rounds, beside the variant's
        metrics.update(profiled.speedup.metrics())
        if profiled.float_result is not None:
            metrics["float_latency_ms_p50"] = profiled.float_result.latency.p50
    for name, extra in profiled.axes.items():
        metrics.update({f"{k}.{name}": v for k, v in extra.metrics().items()})
    for name, ratio in profiled.axis_speedups.items():
        metrics.update(ratio.metrics(suffix=f".{name}"))
        metrics[f"float_latency_ms_p50.{name}"] = profiled.axis_float_results[name].latency.p50
    notes = [*ctx.baseline.notes, *compressed.notes, *exported.notes, *quality.notes, *profiled.notes]
    model_sha256 = _same_file(exported)  # the file evaluated and profiled above, byte for byte
    summary = {"variant": ctx.variant.name, "variant_id": ctx.variant_id, "technique": ctx.variant.technique,
               **metrics, "notes": notes, "io_types": quality.facts.get("io_types"), "run_id": ctx.run_id,
               "model_sha256": model_sha256}
    atomic_write(ctx.out_dir / "summary.json", json.dumps(summary, indent=1, default=str))
    if ctx.tracker is None:
        return summary
    from workbench import tracking as t

    tr = ctx.tracker
    axis_params = {f"{name}.{k}": v for name, extra in profiled.axes.items() for k, v in extra.params().items()}
    tr.log(ctx.run_id, params={**prof.params(), **axis_params, "profile.rounds": profiled.rounds}, metrics=metrics, tags={
        t.TAG_NOISY: str(prof.latency.noisy).lower(),
        t.TAG_PAID_OFF: profiled.paid_off,
        t.TAG_FALLBACK_OPS: ",".join(prof.ops.fallback) or "none",
        t.TAG_IO_TYPES: json.dumps(quality.facts.get("io_types")),
        t.TAG_OPS: ",".join(quality.facts.get("ops", [])),
        t.TAG_DEVICE: json.dumps(prof.device),
        t.TAG_RUNTIME: prof.request.runtime,
        **({t.TAG_PROFILE_AXES: json.dumps({**{n: "FINISHED" for n in profiled.axes},
                                                  **{n: f"FAILED: {why}" for n, why in profiled.failed_axes.items()}})}
           if profiled.axes or profiled.failed_axes else {}),
        **({t.TAG_NOTE: "\n".join(notes)} if notes else {}),
    })
    files = [(exported.path, "model"), *((path, "model") for path in exported.others.values()),
             (ctx.out_dir / "profile.json", "profile"),
             *((ctx.out_dir / f"profile-{name}.json", "profile") for name in profiled.axes),
             *((ctx.out_dir / f"profile-{name}-float-baseline.json", "profile") for name in profiled.axis_float_results),
             *([(ctx.out_dir / "profile-float-baseline.json", "profile")] if profiled.float_result is not None else []),
             (ctx.out_dir / "summary.json", "")]
    # the checksums go in before the files: a run whose upload breaks off is never FINISHED anyway
    manifest = {f"{folder}/{path.name}" if folder else path.name: sha256_file(path) for path, folder in files}
    tr.log(ctx.run_id, tags={t.TAG_MODEL_SHA256: model_sha256, t.TAG_ARTIFACTS_SHA256: json.dumps(manifest)})
    for path, folder in files:
        tr.log_artifact(ctx.run_id, path, folder or None)
    facts = {**compressed.facts, **exported.facts}
    if facts:
        tr.log_text(ctx.run_id, json.dumps(facts, indent=1, default=str), "compress_info.json")
    model_tags = {t.TAG_VARIANT: ctx.variant_id, t.TAG_TECHNIQUE: ctx.variant.technique,
                  t.TAG_MODEL_SHA256: model_sha256}
    tr.log_model(ctx.experiment_id, ctx.run_id, ctx.variant.name, exported.path,
                 {"quantization": ctx.variant.quantization, "technique": ctx.variant.technique}, metrics, model_tags)
    tr.set_tags(ctx.run_id, {t.TAG_COMPLETE: "true"})  # last: everything above is in the store
    if ctx.owns_run:
        tr.end_run(ctx.run_id, t.RunStatus.FINISHED)
    return summary


def run_variant(experiment: str | Path | ExperimentSpec = "", variant: str | VariantSpec = "",
                **kwargs: Any) -> dict[str, Any]:
    """All six cells in-process (explorer, tests). Returns the summary."""
    ctx = prepare_variant(experiment, variant, **kwargs)
    try:
        compressed = compress_variant(ctx)
        exported = convert_variant(ctx, compressed)
        quality = evaluate_variant(ctx, exported, compressed)
        profiled = profile_variant(ctx, exported)
        return log_variant(ctx, compressed, exported, quality, profiled)
    except BaseException as exc:
        if ctx.tracker is not None and ctx.owns_run:
            from workbench.tracking import TAG_FAILURE, RunStatus

            ctx.tracker.set_tags(ctx.run_id, {TAG_FAILURE: f"{type(exc).__name__}: {exc}"[:500]})
            ctx.tracker.end_run(ctx.run_id, RunStatus.FAILED)
        raise
