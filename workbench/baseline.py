"""The float baseline: trained once per (baseline spec, dataset) and cached on disk for every variant.

Cache layout (``<work_dir>/baselines/<baseline_id>/``): ``model.keras``, ``float32.tflite``,
``top1.npy`` (the float .tflite's predictions, for ``agreement``) and ``baseline.json`` (written last,
atomically: its presence means the cache is complete). ``baseline.json`` records the SHA-256 of the
three files; they are checked every time the cache is loaded, and a cache that fails the check (a file
missing, changed or truncated, no checksums recorded) is never used: it is moved aside to
``baselines/.corrupt/`` and the baseline retrained, and the variant's run says so. A file lock makes
parallel workers wait for one trainer instead of training twice. A baseline that is unusable (diverged in
training, NaN/Inf weights or outputs) is never cached: its one line is recorded in
``baselines/.refused-<id>.txt`` and every later request for it raises that DataError at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import Dataset
from workbench.errors import DataError, StorageError
from workbench.files import atomic_write, describe_os_error, file_lock
from workbench.model_files import sha256_file
from workbench.spec import ExperimentSpec, baseline_id
from workbench.spec.ids import task_loss
from workbench.tflite_model import TfliteModel, accuracy, gzip_size, predicted_classes


@dataclass(frozen=True)
class Baseline:
    id: str
    dir: Path
    accuracy: float
    size_bytes: int
    size_gzip_bytes: int
    params: int
    history: dict[str, list[float]]
    top1: np.ndarray
    tflite_sha256: str = ""  # of float32.tflite, as verified on load
    notes: tuple[str, ...] = ()  # e.g. a corrupt cache that was moved aside and retrained

    @property
    def model_path(self) -> Path:
        return self.dir / "model.keras"

    @property
    def tflite_path(self) -> Path:
        return self.dir / "float32.tflite"

    def load_model(self) -> Any:
        """A fresh copy of the trained Keras baseline (safe mode)."""
        from workbench._keras import keras

        return keras.models.load_model(self.model_path, compile=False, safe_mode=True)


def reference_outputs(baseline: Baseline, x_test: np.ndarray) -> dict[str, np.ndarray]:
    """The float reference's outputs on the test split (its .tflite on LiteRT, every output by name): what
    fidelity compares each variant with. Computed once and kept beside the cache, named by the .tflite's
    verified SHA-256 and the test inputs' (the same file on the same samples: the same outputs)."""
    digest = hashlib.sha256(np.ascontiguousarray(x_test).tobytes()).hexdigest()[:12]
    path = baseline.dir / f"float32-outputs-{baseline.tflite_sha256[:12]}-{digest}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        pass  # not made yet, or unreadable: computed again below
    outputs = TfliteModel(baseline.tflite_path.read_bytes(), source="baseline float32").predict_outputs(x_test)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **outputs)
    try:
        atomic_write(path, buf.getvalue())
    except StorageError:
        pass  # a cache only: the outputs are returned all the same
    return outputs


#: the cached files whose SHA-256 ``baseline.json`` records (and every load checks)
CACHE_FILES = ("model.keras", "float32.tflite", "top1.npy")
CORRUPT_DIR = ".corrupt"


class CorruptCache(Exception):
    """A cached baseline failed verification (internal: ``ensure_baseline`` moves it aside and retrains)."""


def _meta(bdir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((bdir / "baseline.json").read_text())
    except FileNotFoundError:
        raise CorruptCache("baseline.json is missing") from None
    except (OSError, ValueError) as exc:
        raise CorruptCache(f"baseline.json is unreadable ({type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise CorruptCache("baseline.json is not a JSON object")
    return meta


def cache_problems(bdir: Path, bid: str | None = None) -> list[str]:
    """What is wrong with the cached baseline in ``bdir``: empty when ``baseline.json`` is readable (and for
    ``bid``) and every file it lists is present with the SHA-256 it recorded."""
    try:
        meta = _meta(bdir)
    except CorruptCache as exc:
        return [str(exc)]
    if bid is not None and meta.get("id") != bid:
        return [f"baseline.json belongs to baseline {str(meta.get('id'))[:16]}, not {bid[:16]}"]
    recorded = meta.get("sha256")
    if not isinstance(recorded, dict):
        return ["baseline.json records no checksums (written by an older workbench)"]
    problems = []
    for name in CACHE_FILES:
        path = bdir / name
        if name not in recorded:
            problems.append(f"{name} has no recorded checksum")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        else:
            actual = sha256_file(path)
            if actual != recorded[name]:
                problems.append(f"{name} does not match its recorded SHA-256 ({str(recorded[name])[:12]}, now "
                                f"{actual[:12]})")
    return problems


def cached_baselines(work_dir: Path) -> list[Path]:
    """Every cached baseline folder under ``work_dir`` (complete or not; the quarantine excluded)."""
    root = work_dir / "baselines"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _load(bdir: Path, bid: str) -> Baseline:
    """The cached baseline, verified file by file; CorruptCache when anything fails the check."""
    problems = cache_problems(bdir, bid)
    if problems:
        raise CorruptCache("; ".join(problems))
    meta = _meta(bdir)
    try:
        top1 = np.load(io.BytesIO((bdir / "top1.npy").read_bytes()), allow_pickle=False)
        return Baseline(bid, bdir, meta["accuracy"], meta["size_bytes"], meta["size_gzip_bytes"], meta["params"],
                        meta["history"], top1, str(meta["sha256"]["float32.tflite"]))
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptCache(f"unreadable ({type(exc).__name__}: {exc})") from None


def cached_baseline(work_dir: Path, bid: str) -> Baseline | None:
    """The intact cached baseline ``bid`` (verified file by file), or None when there is none or it fails the
    check: never trains (no TensorFlow), so the supervising process may call it."""
    bdir = work_dir / "baselines" / bid[:16]
    if not (bdir / "baseline.json").exists():
        return None
    try:
        return _load(bdir, bid)
    except CorruptCache:
        return None


def _quarantine(work_dir: Path, bdir: Path) -> Path:
    """Move a corrupt cache aside (kept for inspection, never read again)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = work_dir / "baselines" / CORRUPT_DIR / f"{bdir.name}-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(bdir, target)
    return target


def ensure_baseline(spec: ExperimentSpec, dataset: Dataset, work_dir: Path, root: Path | None = None,
                    model_fingerprint: str = "") -> Baseline:
    """Return the cached baseline, training and converting it first if no complete, intact cache exists.

    ``model_fingerprint`` (the plan's SHA-256 of a user's model file, '' for a zoo model) is part of the
    cache key, and the file is checked against it before it is loaded for training. A cache that fails
    verification is moved to ``baselines/.corrupt/`` and retrained; the returned baseline's ``notes`` say so.
    A baseline that diverged in training (a NaN/Inf loss or weight) or outputs NaN/Inf raises DataError (one
    line), recorded in ``baselines/.refused-<id>.txt`` so every other variant of it is refused at once.
    """
    return _with_chance_note(_ensure(spec, dataset, work_dir, root, model_fingerprint), dataset)


def _ensure(spec: ExperimentSpec, dataset: Dataset, work_dir: Path, root: Path | None,
            model_fingerprint: str) -> Baseline:
    bid = baseline_id(spec.baseline, dataset.fingerprint, model_fingerprint, task_loss(spec))
    bdir = work_dir / "baselines" / bid[:16]
    raise_if_refused(work_dir, bid)
    if (bdir / "baseline.json").exists():
        try:
            return _load(bdir, bid)
        except CorruptCache:
            pass  # settled under the lock below: one worker moves it aside and retrains
    with file_lock(work_dir / "baselines" / f".{bid[:16]}.lock"):
        raise_if_refused(work_dir, bid)  # another worker found it unusable while we waited: not trained twice
        notes: tuple[str, ...] = ()
        if (bdir / "baseline.json").exists():  # another worker finished while we waited, or a corrupt cache
            try:
                return _load(bdir, bid)
            except CorruptCache as exc:
                moved = _quarantine(work_dir, bdir)
                notes = (f"the cached float baseline failed verification ({exc}); it was moved to {moved} and "
                         "the baseline retrained",)
        from workbench.models import build_baseline, check_finite, seed_everything, train_baseline

        seed_everything(spec.baseline.training.seed)
        model = build_baseline(spec.baseline.model, spec.baseline.model_args, dataset, root, model_fingerprint)
        history = train_baseline(model, dataset, spec.resolved_training())
        try:
            check_finite(model, history, dataset, spec.baseline.model if spec.baseline.is_user_model else "")
            return _write_cache(bdir, bid, spec, dataset, model, history, model_fingerprint, notes)
        except DataError as exc:  # recorded: every other variant of this baseline is refused at once, untrained
            atomic_write(_refused_path(work_dir, bid), str(exc))
            raise
        except OSError as exc:  # a full disk names itself, and no half-written cache is ever read
            raise StorageError(describe_os_error(exc, bdir)) from exc


def _with_chance_note(baseline: Baseline, dataset: Dataset) -> Baseline:
    from workbench.analysis.significance import chance_note

    note = chance_note(baseline.accuracy, np.asarray(dataset.y_test)) if dataset.labels == "classes" else ""
    return replace(baseline, notes=(*baseline.notes, note)) if note else baseline


def _refused_path(work_dir: Path, bid: str) -> Path:
    return work_dir / "baselines" / f".refused-{bid[:16]}.txt"


def refusal(work_dir: Path, bid: str) -> str | None:
    """The recorded line when this baseline (same spec, data, model file) was found unusable, else None: a file
    read, no TensorFlow, so the supervising process asks after every variant (``run.task.stop_on_baseline``)."""
    path = _refused_path(work_dir, bid)
    try:
        return path.read_text().strip() or "the float baseline was found unusable"
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def raise_if_refused(work_dir: Path, bid: str) -> None:
    """DataError with the recorded line when this baseline (same spec, data, model file) was found unusable."""
    line = refusal(work_dir, bid)
    if line is not None:
        raise DataError(line)


def _write_cache(bdir: Path, bid: str, spec: ExperimentSpec, dataset: Dataset, model: Any,
                 history: dict[str, list[float]], model_fingerprint: str, notes: tuple[str, ...]) -> Baseline:
    """Convert the trained baseline and write the cache, ``baseline.json`` (with the checksums) last."""
    from workbench.convert import convert
    from workbench.models import count_params

    content = convert(model, "float32")
    logits = TfliteModel(content, source="baseline float32").predict(dataset.x_test)
    bad = ~np.isfinite(logits).all(axis=tuple(range(1, logits.ndim)))
    if bad.any():  # before anything is written: a cache of a model that outputs NaN is never made
        raise DataError(f"dataset '{dataset.name}': the float baseline outputs NaN or Inf on {int(bad.sum())} of "
                        f"{len(bad)} test samples (first: sample {int(np.argmax(bad))}); check the input scale "
                        "and the model's weights")
    bdir.mkdir(parents=True, exist_ok=True)
    tmp_model = bdir / ".model.tmp.keras"
    model.save(tmp_model)
    os.replace(tmp_model, bdir / "model.keras")
    atomic_write(bdir / "float32.tflite", content)
    top1 = predicted_classes(logits).astype(np.int64)
    tmp_top1 = bdir / ".top1.tmp.npy"
    np.save(tmp_top1, top1, allow_pickle=False)
    os.replace(tmp_top1, bdir / "top1.npy")
    meta = {
        "id": bid, "accuracy": accuracy(logits, dataset.y_test) if dataset.labels == "classes" else float("nan"),
        "size_bytes": len(content),
        "size_gzip_bytes": gzip_size(content), "params": count_params(model), "history": history,
        "spec": spec.baseline.model_dump(mode="json"), "dataset_fingerprint": dataset.fingerprint,
        "model_fingerprint": model_fingerprint,
        # the .tflite by the bytes measured above, not as read back: a bad write can never be recorded
        "sha256": {"model.keras": sha256_file(bdir / "model.keras"),
                   "float32.tflite": hashlib.sha256(content).hexdigest(), "top1.npy": sha256_file(bdir / "top1.npy")},
    }
    atomic_write(bdir / "baseline.json", json.dumps(meta, indent=1))
    return replace(_load(bdir, bid), notes=notes)
