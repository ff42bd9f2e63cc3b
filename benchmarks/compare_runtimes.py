"""Benchmark: the same models on LiteRT, ONNX Runtime and OpenVINO, measured in one run by the workbench's
own profiler (a fresh process per measurement, importing NumPy and that runtime only).

1. MobileNetV2 224x224 (untrained weights, generated inputs) float32 and int8 at 1 and 2 threads: p50, p95,
   init and peak memory. LiteRT runs the .tflite; ONNX Runtime the .onnx (tf2onnx; int8 = ONNX Runtime's
   static QDQ quantization, per-channel, calibrated on the same samples as LiteRT's int8); OpenVINO
   compiles the same .tflite (and, as a cross-check, the .onnx).
2. Digits (trained as in experiments/_base.yaml): float32 and int8 accuracy on each runtime, and each
   runtime's agreement with the Keras model's top-1.

Writes results/compare_runtimes.{json,md}. Run: .venv/bin/python benchmarks/compare_runtimes.py (make bench).
Nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.convert import convert
from workbench.convert.onnx import convert_onnx
from workbench.data import load_dataset
from workbench.models import build_zoo_model, seed_everything, train_baseline
from workbench.profile import profile_model
from workbench.runtime_model import predict_on
from workbench.spec import TargetSpec, TrainingSpec

OUT = Path(__file__).with_name("results")
#: (label, runtime, file format) in table order
RUNTIMES = (("LiteRT", "litert", "tflite"), ("ONNX Runtime", "onnxruntime", "onnx"),
            ("OpenVINO", "openvino", "tflite"), ("OpenVINO (.onnx)", "openvino", "onnx"))


def _files(model: Any, calib: np.ndarray, out: Path, stem: str) -> dict[tuple[str, str], Path]:
    """float32 and int8 of ``model`` as .tflite and .onnx, calibrated on the same samples."""
    files = {}
    for mode in ("float32", "int8"):
        for fmt, conv in (("tflite", convert), ("onnx", convert_onnx)):
            path = out / f"{stem}_{mode}.{fmt}"
            path.write_bytes(conv(model, mode, calib))
            files[(mode, fmt)] = path
    return files


def mobilenet(tmp: Path) -> list[dict[str, Any]]:
    seed_everything(0)
    data = load_dataset("synthetic", {"shape": [224, 224, 3], "classes": 10, "train": 32, "test": 16})
    model = build_zoo_model("mobilenet_v2", (224, 224, 3), 10, {})
    files = _files(model, data.x_train, tmp, "mobilenet_v2")
    rows = []
    for mode in ("float32", "int8"):
        for label, runtime, fmt in RUNTIMES:
            for threads in (1, 2):
                target = TargetSpec(runtime=runtime, threads=threads, warmup_runs=5, min_runs=50, min_seconds=3,
                                    max_seconds=30)
                row: dict[str, Any] = {"mode": mode, "runtime": label, "threads": threads,
                                       "file": files[(mode, fmt)].name, "size_bytes": files[(mode, fmt)].stat().st_size}
                try:
                    r = profile_model(files[(mode, fmt)], target, data.x_test)
                except Exception as exc:  # a runtime that cannot run it is a row that says why
                    row["error"] = str(exc)
                else:
                    m = r.metrics()
                    row.update({"p50_ms": m["latency_ms_p50"], "p95_ms": m["latency_ms_p95"], "init_ms": m["init_ms"],
                                "peak_mb": m["memory_mb_peak"], "runs": r.latency.runs, "noisy": r.latency.noisy,
                                "version": f"{r.runtime.package} {r.runtime.version}", **r.facts})
                rows.append(row)
                print(row, flush=True)
    return rows


def digits_accuracy(tmp: Path) -> list[dict[str, Any]]:
    seed_everything(0)
    data = load_dataset("digits")
    model = build_zoo_model("digits_cnn", data.input_shape, data.num_classes, {})
    train_baseline(model, data, TrainingSpec(epochs=15, batch_size=32, learning_rate=0.002, seed=0))
    keras_top1 = np.argmax(model.predict(data.x_test, verbose=0), axis=1)
    rng = np.random.default_rng(0)  # the sweep's calibration draw: 200 seeded training samples
    calib = data.x_train[np.sort(rng.choice(len(data.x_train), size=200, replace=False))]
    files = _files(model, calib, tmp, "digits")
    rows = [{"mode": "keras", "runtime": "Keras (tf_keras)", "accuracy": float(np.mean(keras_top1 == data.y_test)),
             "agreement_with_keras": 1.0}]
    for mode in ("float32", "int8"):
        for label, runtime, fmt in RUNTIMES:
            row: dict[str, Any] = {"mode": mode, "runtime": label, "file": files[(mode, fmt)].name}
            try:
                top1 = np.argmax(predict_on(runtime, files[(mode, fmt)], data.x_test), axis=1)
            except Exception as exc:
                row["error"] = str(exc)
            else:
                row.update({"accuracy": float(np.mean(top1 == data.y_test)),
                            "agreement_with_keras": float(np.mean(top1 == keras_top1))})
            rows.append(row)
            print(row, flush=True)
    return rows


def _cell(row: dict[str, Any], key: str, fmt: str) -> str:
    return fmt.format(row[key]) if key in row else "—"


def markdown(latency: list[dict[str, Any]], accuracy: list[dict[str, Any]]) -> str:
    lines = ["| mode | runtime | threads | p50 ms | p95 ms | init ms | peak MB | file KB | computes in | noisy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in latency:
        lines.append(f"| {r['mode']} | {r['runtime']} | {r['threads']} | {_cell(r, 'p50_ms', '{:.2f}')} | "
                     f"{_cell(r, 'p95_ms', '{:.2f}')} | {_cell(r, 'init_ms', '{:.0f}')} | {_cell(r, 'peak_mb', '{:.1f}')} | "
                     f"{r['size_bytes'] / 1024:.0f} | {r.get('inference_precision', '')} | "
                     f"{'yes' if r.get('noisy') else ''} |" + (f" {r['error']}" if "error" in r else ""))
    lines += ["", "| digits | runtime | accuracy | agreement with Keras |", "|---|---|---|---|"]
    for r in accuracy:
        lines.append(f"| {r['mode']} | {r['runtime']} | {_cell(r, 'accuracy', '{:.4f}')} | "
                     f"{_cell(r, 'agreement_with_keras', '{:.4f}')} |" + (f" {r['error']}" if "error" in r else ""))
    return "\n".join(lines) + "\n"


def main() -> int:
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        latency = mobilenet(Path(tmp))
        accuracy = digits_accuracy(Path(tmp))
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": time.time() - t0,
              "loadavg_1m_at_end": os.getloadavg()[0],
              "mobilenet_v2_224": latency, "digits_accuracy": accuracy}
    OUT.mkdir(exist_ok=True)
    (OUT / "compare_runtimes.json").write_text(json.dumps(result, indent=1))
    text = markdown(latency, accuracy)
    (OUT / "compare_runtimes.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
