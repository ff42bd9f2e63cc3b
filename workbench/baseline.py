"""The float baseline: trained once per (baseline spec, dataset) and cached on disk for every variant.

Cache layout (``<work_dir>/baselines/<baseline_id>/``): ``model.keras``, ``float32.tflite``,
``top1.npy`` (the float .tflite's predictions, for ``agreement``) and ``baseline.json`` (written last,
atomically: its presence means the cache is complete). A file lock makes parallel workers wait for
one trainer instead of training twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data import Dataset
from workbench.files import atomic_write, file_lock
from workbench.spec import ExperimentSpec, baseline_id
from workbench.tflite_model import TfliteModel, accuracy, gzip_size


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


def _load(bdir: Path, bid: str) -> Baseline:
    meta = json.loads((bdir / "baseline.json").read_text())
    return Baseline(bid, bdir, meta["accuracy"], meta["size_bytes"], meta["size_gzip_bytes"], meta["params"],
                    meta["history"], np.load(bdir / "top1.npy", allow_pickle=False))


def ensure_baseline(spec: ExperimentSpec, dataset: Dataset, work_dir: Path, root: Path | None = None) -> Baseline:
    """Return the cached baseline, training and converting it first if no complete cache exists."""
    bid = baseline_id(spec.baseline, dataset.fingerprint)
    bdir = work_dir / "baselines" / bid[:16]
    if (bdir / "baseline.json").exists():
        return _load(bdir, bid)
    with file_lock(work_dir / "baselines" / f".{bid[:16]}.lock"):
        if (bdir / "baseline.json").exists():  # another worker finished while we waited
            return _load(bdir, bid)
        from workbench.convert import convert
        from workbench.models import build_baseline, count_params, seed_everything, train_baseline

        seed_everything(spec.baseline.training.seed)
        model = build_baseline(spec.baseline.model, spec.baseline.model_args, dataset, root)
        history = train_baseline(model, dataset, spec.baseline.training)
        bdir.mkdir(parents=True, exist_ok=True)
        tmp_model = bdir / ".model.tmp.keras"
        model.save(tmp_model)
        os.replace(tmp_model, bdir / "model.keras")
        content = convert(model, "float32")
        atomic_write(bdir / "float32.tflite", content)
        logits = TfliteModel(content, source="baseline float32").predict(dataset.x_test)
        top1 = np.argmax(logits, axis=1).astype(np.int64)
        tmp_top1 = bdir / ".top1.tmp.npy"
        np.save(tmp_top1, top1, allow_pickle=False)
        os.replace(tmp_top1, bdir / "top1.npy")
        meta = {
            "id": bid, "accuracy": accuracy(logits, dataset.y_test), "size_bytes": len(content),
            "size_gzip_bytes": gzip_size(content), "params": count_params(model), "history": history,
            "spec": spec.baseline.model_dump(mode="json"), "dataset_fingerprint": dataset.fingerprint,
        }
        atomic_write(bdir / "baseline.json", json.dumps(meta, indent=1))
        return _load(bdir, bid)
