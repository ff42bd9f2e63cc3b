"""A sweep's Model Explorer overlays: the float reference's ``.tflite`` graph, coloured once per variant by how far
each of the variant's tensors moved from the float one (the LiteRT Quantizer's per-tensor SNR in dB).

``workbench report`` writes them beside the dashboard and ``workbench graph EXPERIMENT`` opens them; both read
the sweep from the store only (the ``.tflite`` files its runs logged), so any machine can rebuild them. The
float reference is the sweep's ``float32`` variant without steps (the float baseline measured like a variant);
a sweep without one has no graph to colour, and says so.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.run.settle import load_sweep
from workbench.run.status import VariantStatus
from workbench.spec import ExperimentSpec
from workbench.tracking import Tracker
from workbench.variant.artifacts import MODEL_FOLDER, VariantFiles

REFERENCE_TECHNIQUE = "ptq:float32"  # ``VariantSpec.technique`` of the float baseline measured as a variant
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SweepOverlays:
    """The graph to open (the float reference's ``.tflite``), one overlay file per variant, and why a variant
    has none (variant -> reason)."""

    model: Path
    overlays: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def overlay_dir(out_dir: Path, experiment: str, sweep_id: str) -> Path:
    """Where a sweep's graph and overlays are written: beside its dashboard (``<out>/<experiment>-<sweep>-graph``)."""
    return out_dir / f"{experiment}-{sweep_id}-graph"


def sweep_overlays(tracker: Tracker, experiment_id: str, sweep_id: str, out_dir: Path) -> SweepOverlays:
    """Write the float reference's ``model.tflite`` and ``snr-db-<variant>.json`` for every other variant of the
    sweep with a ``.tflite`` (SNR of each tensor the two files share, on the first test samples, else one
    random-normal sample: where the variant departs from float, not its accuracy) under ``overlay_dir(out_dir, ...)``.

    Raises:
        WorkbenchError: the sweep has no finished float32 variant without steps (no graph to colour).
    """
    from workbench.convert.quantizer import tensor_errors
    from workbench.files import atomic_write
    from workbench.views.overlay import write_overlay

    sweep = load_sweep(tracker, experiment_id, sweep_id)
    done = [r for r in sweep.rows if r.get("run_id") and r["status"] in (VariantStatus.FINISHED, VariantStatus.SKIPPED)]
    reference = next((r for r in done if r["technique"] == REFERENCE_TECHNIQUE), None)
    if reference is None:
        raise WorkbenchError(f"sweep {sweep_id} of '{sweep.spec.name}' has no finished float32 variant without steps, "
                             "whose graph the overlays would colour; add `{name: float32, quantization: float32}` "
                             "to the experiment's variants and run it")
    samples = _test_samples(sweep.spec)
    folder = overlay_dir(out_dir, sweep.spec.name, sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    logged = VariantFiles.logged_as(VariantFiles(Path(".")).tflite, MODEL_FOLDER)
    with tempfile.TemporaryDirectory(prefix="wb-graph-") as tmp:
        float_bytes = _download(tracker, reference["run_id"], logged, Path(tmp))
        model = folder / f"{_UNSAFE.sub('_', reference['variant'])}.tflite"
        atomic_write(model, float_bytes)
        result = SweepOverlays(model)
        for row in done:
            if row is reference:
                continue
            name = row["variant"]
            try:
                variant_bytes = _download(tracker, row["run_id"], logged, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a run without a .tflite (or an unreadable one) gets no overlay
                result.skipped[name] = f"no {logged} on run {row['run_id']} ({type(exc).__name__})"
                continue
            try:
                try:  # the test split's first samples; a random-normal one where they do not fit the file
                    errors = tensor_errors(float_bytes, variant_bytes, samples)
                except WorkbenchError:
                    if samples is None:
                        raise
                    errors = tensor_errors(float_bytes, variant_bytes)
            except WorkbenchError as exc:
                result.skipped[name] = str(exc)
                continue
            snr = {k: v["snr_db"] for k, v in errors.items() if "snr_db" in v}
            if not snr:
                result.skipped[name] = "no tensor of the float graph changed (or none shares its name)"
                continue
            result.overlays.append(write_overlay(folder / f"snr-db-{_UNSAFE.sub('_', name)}.json", snr,
                                                 higher_is_worse=False))
    return result


def _download(tracker: Tracker, run_id: str, logged: str, tmp: Path) -> bytes:
    """The bytes of a run's artifact ``logged``, through a folder of its own under ``tmp``."""
    dst = tmp / run_id
    dst.mkdir()
    return tracker.download(run_id, logged, dst).read_bytes()


def _test_samples(spec: ExperimentSpec, n: int = 8) -> Any:
    """The first ``n`` test samples of the experiment's dataset (float32), or None when it cannot be read here:
    an int8 variant's activations are only meaningful inside the range it was calibrated on, which a
    random-normal sample leaves (its SNR then reads 4-7 dB on digits where real samples read far higher)."""
    import numpy as np

    from workbench.data import load_dataset

    try:
        data = load_dataset(spec.baseline.dataset, spec.baseline.dataset_args, root=Path.cwd())
        x = data.x_test[:n]
        return x.astype(np.float32) if isinstance(x, np.ndarray) else None
    except Exception:  # noqa: BLE001 - a dataset this process cannot load: the quantizer's random sample instead
        return None
