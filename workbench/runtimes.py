"""One variant on several runtimes: the file each runtime runs, accuracy on each, the profile axes that
change the runtime, and what the comparison says. Used by ``workbench.variant``; knows nothing of its context.

Which file each runtime runs, and how it is made, is its catalogue record (``workbench.catalog.runtimes``);
the file is made here by the producer of its format (``PRODUCERS``: the ``.onnx`` exported from the Keras
model, ...). What a runtime cannot convert or run is reported (a reason per runtime), never raised past
the variant's own main target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analysis.fidelity import fidelity
from workbench.analysis.significance import wilson
from workbench.catalog import RUNTIMES, display_name, runtime
from workbench.errors import ModelFileError, ProfileError
from workbench.files import atomic_write, file_lock
from workbench.profile import ProfileResult
from workbench.profile.paired import Measure, measure_rounds
from workbench.profile.stats import Ratio, payoff
from workbench.runtime_model import predict_outputs_on
from workbench.spec import TargetSpec
from workbench.tflite_model import accuracy, agreement, gzip_size


@dataclass(frozen=True)
class RuntimeFiles:
    """The deployable files of one variant: the .tflite always, and each other format a target runs."""

    tflite: Path
    others: dict[str, Path] = field(default_factory=dict)  # file format (".onnx", ...) -> file
    errors: dict[str, str] = field(default_factory=dict)  # file format -> why it could not be made

    def for_runtime(self, runtime_name: str) -> Path:
        """The file ``runtime_name`` runs. Raises ModelFileError when it could not be produced."""
        fmt = runtime(runtime_name).file_format
        if fmt == ".tflite":
            return self.tflite
        if fmt not in self.others:
            raise ModelFileError(f"no {fmt} for {display_name(runtime_name)}: {self.errors.get(fmt) or 'not made'}")
        return self.others[fmt]


@dataclass(frozen=True)
class RuntimeQuality:
    """Accuracy and fidelity per runtime (keys: runtime names) and the runtimes that could not run the variant."""

    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. outputs a runtime names otherwise than the float reference (no fidelity)


def runtimes_of(main: TargetSpec, axes: dict[str, TargetSpec]) -> list[str]:
    """Every runtime the main target and the profile axes use, main first."""
    return list(dict.fromkeys([main.runtime, *(t.runtime for t in axes.values())]))


@dataclass(frozen=True)
class Sources:
    """What a runtime's file is made from: the variant's Keras model (loaded only by a producer that needs
    it), quantization mode, calibration samples and QAT flag, and its .tflite."""

    load_model: Callable[[], Any]
    mode: str
    tflite: Path
    x_calib: np.ndarray | None = None
    qat: bool = False
    keep_float: bool = False


def _onnx(src: Sources, out_path: Path) -> tuple[str, ...]:
    """``model.onnx`` from the Keras model (tf2onnx; integer modes by ONNX Runtime's quantizer)."""
    from workbench.convert.onnx import ONNX_MODE_DOC, convert_onnx

    atomic_write(out_path, convert_onnx(src.load_model(), src.mode, src.x_calib, qat=src.qat))
    notes = (f"ONNX {src.mode}: {ONNX_MODE_DOC[src.mode]}",) if src.mode == "int8_io" else ()
    if src.qat:
        notes = (*notes, "the QAT .onnx keeps float32 weights behind QuantizeLinear/DequantizeLinear pairs "
                         "(tf2onnx converts the fake-quant nodes, not the weights): it is not smaller than float")
    if src.keep_float:
        notes = (*notes, "keep_float applies to the .tflite only: the .onnx is plain int8")
    return notes


def _mnn(src: Sources, out_path: Path) -> tuple[str, ...]:
    """``model.mnn`` from the .tflite, by MNN's own converter in a subprocess."""
    from workbench.convert.mnn import convert_mnn

    convert_mnn(src.tflite, out_path)
    return ()


#: file format -> (sources, the path to write) -> notes; raises when the format cannot be made. The
#: formats made from the .tflite by a converter subprocess, or from the Keras model.
PRODUCERS: dict[str, Callable[[Sources, Path], tuple[str, ...]]] = {
    ".onnx": _onnx,
    ".mnn": _mnn,
}


def formats_needed(runtimes: Iterable[str]) -> list[str]:
    """The file formats (other than the .tflite) the given runtimes run, in order."""
    return list(dict.fromkeys(f for f in (runtime(rt).file_format for rt in runtimes) if f != ".tflite"))


def make_files(src: Sources, formats: Iterable[str], out_dir: Path,
               required: str | None) -> tuple[dict[str, Path], dict[str, str], tuple[str, ...]]:
    """Write ``model<format>`` into ``out_dir`` for each format: (files, errors, notes). A format that cannot
    be made is an error and a note (ModelFileError when it is ``required``: the main target's)."""
    files: dict[str, Path] = {}
    errors: dict[str, str] = {}
    notes: tuple[str, ...] = ()
    for fmt in formats:
        path = out_dir / f"model{fmt}"
        try:
            notes = (*notes, *PRODUCERS[fmt](src, path))
            files[fmt] = path
        except Exception as exc:  # converters raise many types; the message is what matters
            reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
            if fmt == required:
                raise ModelFileError(f"cannot make the {fmt} file for this variant ({reason})") from None
            errors[fmt] = reason
            users = ", ".join(r.display for r in RUNTIMES.values() if r.file_format == fmt)
            notes = (*notes, f"{fmt} conversion failed, so {users} cannot measure this variant: {reason}")
    return files, errors, notes


def baseline_file(baseline_dir: Path, tflite: Path, runtime_name: str, load_model: Callable[[], Any]) -> Path:
    """The float baseline's file for ``runtime_name``: its .tflite, or a float file of the runtime's format
    made once and cached beside it (file-locked: parallel workers wait for one converter)."""
    fmt = runtime(runtime_name).file_format
    if fmt == ".tflite":
        return tflite
    path = baseline_dir / f"float32{fmt}"
    if path.exists():
        return path
    with file_lock(baseline_dir / f".float32{fmt}.lock"):
        if not path.exists():
            PRODUCERS[fmt](Sources(load_model, "float32", tflite), path)
    return path


def top1_metrics(logits: np.ndarray, y_test: np.ndarray, reference_top1: np.ndarray,
                 baseline_accuracy: float) -> dict[str, float]:
    """A classifier's accuracy with its Wilson interval, its delta against the float baseline (points) and
    agreement with the float model's top-1."""
    acc = accuracy(logits, y_test)
    lo, hi = wilson(int(round(acc * len(y_test))), len(y_test))
    return {"accuracy": acc, "accuracy_ci_low": lo, "accuracy_ci_high": hi,
            "accuracy_delta": (acc - baseline_accuracy) * 100.0, "agreement": agreement(logits, reference_top1)}


Score = Callable[[Mapping[str, np.ndarray]], dict[str, float]]


def runtime_quality(files: RuntimeFiles, runtimes: Iterable[str], x_test: np.ndarray, score: Score,
                    reference: Mapping[str, np.ndarray] | None = None) -> RuntimeQuality:
    """The task's metrics (``score``: outputs by name -> metrics; a classifier's: ``top1_metrics``), fidelity
    to the float model's outputs (``reference``: output name -> the float .tflite's outputs on ``x_test``) and
    the file's sizes, measured by running the test split on each runtime. A runtime that cannot give what a
    metric needs (an output by name) has a note instead of that metric."""
    out, failed, notes = {}, {}, []
    for name in runtimes:
        try:
            path = files.for_runtime(name)
            outputs = predict_outputs_on(name, path, x_test)
        except ModelFileError as exc:
            failed[name] = str(exc)
            continue
        content = path.read_bytes()
        out[name] = {"size_bytes": float(len(content)), "size_gzip_bytes": float(gzip_size(content))}
        try:
            out[name].update(score(outputs))
        except ValueError as exc:
            notes.append(f"no task metrics on {display_name(name)}: {exc}")
        try:
            out[name].update(fidelity(reference, outputs) if reference is not None else {})
        except ValueError as exc:
            notes.append(f"no fidelity on {display_name(name)}: {exc}")
    return RuntimeQuality(out, failed, tuple(notes))


def axis_metrics(quality: RuntimeQuality, main_runtime: str, axes: dict[str, TargetSpec]) -> dict[str, float]:
    """``accuracy.<axis>`` etc. for every CPU axis that runs another runtime than the main target (the
    accuracy is computed on the runtime's CPU kernels: an accelerator axis gets none)."""
    return {f"{k}.{name}": v for name, t in axes.items() if t.runtime != main_runtime and t.accelerator == "cpu"
            for k, v in quality.metrics.get(t.runtime, {}).items()}


def verdict(speedup: Ratio) -> tuple[bool, str]:
    """(paid off, in words) for a side-by-side speed-up: ``stats.payoff`` is the one definition."""
    word = payoff(speedup.value, speedup.ci_low, speedup.ci_high)
    return word == "pays off", word


@dataclass(frozen=True)
class AxesProfile:
    """The extra profile axes: results, the float baseline beside each runtime axis (from the same interleaved
    rounds), the speed-up per runtime axis, and the failures."""

    results: dict[str, ProfileResult] = field(default_factory=dict)
    float_results: dict[str, ProfileResult] = field(default_factory=dict)  # runtime axes only
    failed: dict[str, str] = field(default_factory=dict)
    speedups: dict[str, Ratio] = field(default_factory=dict)  # runtime axes only


def profile_axes(measure: Measure, files: RuntimeFiles, main_runtime: str, axes: dict[str, TargetSpec],
                 failed_runtimes: dict[str, str], float_file: Callable[[str], Path] | None,
                 rounds: int = 1) -> AxesProfile:
    """Profile every axis in ``rounds`` rounds (call with the profiling lock held). An axis whose runtime could
    not run the variant, or whose runner fails, is recorded FAILED with the reason. With ``float_file`` the
    float baseline is interleaved with the variant on every axis that changes the runtime (A B / B A per
    round: the pay-off check per runtime)."""
    out = AxesProfile()
    for name, target in axes.items():
        if target.runtime in failed_runtimes:
            out.failed[name] = failed_runtimes[target.runtime]
            continue
        try:
            ref = float_file(target.runtime) if float_file is not None and target.runtime != main_runtime else None
            paired = measure_rounds(measure, files.for_runtime(target.runtime), ref, target, rounds)
        except (ProfileError, ModelFileError) as exc:
            out.failed[name] = str(exc)
            continue
        out.results[name] = paired.subject
        if paired.reference is not None and paired.speedup is not None:
            out.float_results[name], out.speedups[name] = paired.reference, paired.speedup
    return out


def _speedup_words(runtime: str, s: Ratio) -> str:
    interval = f", {s.ci_low:.2f}-{s.ci_high:.2f}" if s.ci_low == s.ci_low else ""
    return f"{runtime} (x{s.value:.2f}{interval})"


def runtime_notes(main: TargetSpec, main_speedup: Ratio | None, axes: dict[str, TargetSpec],
                  profiled: AxesProfile, results: Iterable[ProfileResult], quantization: str) -> list[str]:
    """What the comparison across runtimes says: failed axes, a variant that pays off on one runtime and
    not another (speed-ups with their intervals over rounds), and a float model that OpenVINO computed in
    reduced precision."""
    notes = [f"profile axis '{name}' ({axes[name].runtime}) FAILED: {why}" for name, why in profiled.failed.items()]
    speedups = {main.runtime: main_speedup} if main_speedup is not None else {}
    for name, ratio in profiled.speedups.items():
        speedups.setdefault(axes[name].runtime, ratio)
    paid = [_speedup_words(rt, s) for rt, s in speedups.items() if verdict(s)[0]]
    unpaid = [_speedup_words(rt, s) for rt, s in speedups.items() if not verdict(s)[0]]
    if paid and unpaid:
        notes.append(f"pays off on {', '.join(paid)} but not on {', '.join(unpaid)} (speed-up over float32 on "
                     "the same runtime, measured side by side; 95% interval over rounds)")
    precisions = {r.facts.get("inference_precision") for r in results if r.runtime.package == "openvino"}
    low = sorted(p for p in precisions if p and p != "f32")
    if low and quantization in ("float32", "float16"):
        notes.append(f"OpenVINO computed this float model in {', '.join(low)} (its default on this CPU): its latency "
                     "and accuracy are that precision's")
    return notes
