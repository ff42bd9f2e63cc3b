"""Benchmark: file sizes of MobileNetV2 (zoo, weights=None, 224x224) per quantization mode, the converter's
and the LiteRT Quantizer's, at 10 and 1000 classes. Writes results/int4_sizes.{json,md}.

The acceptance figure of issue 18: the int4_weights file at most 0.55x the converter's int8 file. Sizes do
not depend on the (untrained) weight values; latency and accuracy are measured by a sweep
(experiments/mobilenet_v2_latency.yaml, experiments/int4.yaml).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from workbench.convert import convert
from workbench.convert.quantizer import quantize_tflite
from workbench.data import load_dataset
from workbench.models import build_zoo_model, seed_everything

OUT = Path(__file__).with_name("results")
MODES = ("float32", "float16", "dynamic", "int8", "int8_weights", "int4_weights", "int4_dynamic")


def main() -> int:
    rows: list[dict[str, object]] = []
    for classes in (10, 1000):  # results written after each model: a long run leaves what it measured
        seed_everything(0)
        data = load_dataset("synthetic", {"shape": [224, 224, 3], "classes": classes, "train": 32, "test": 8})
        model = build_zoo_model("mobilenet_v2", (224, 224, 3), classes, {})
        files = {m: convert(model, m, data.x_train) for m in MODES if m in ("float32", "float16", "dynamic", "int8")}
        files |= {m: quantize_tflite(files["float32"], m) for m in MODES if m not in files}
        for m in MODES:
            rows.append({"classes": classes, "mode": m, "size_bytes": len(files[m]),
                         "of_float32": len(files[m]) / len(files["float32"]),
                         "of_int8": len(files[m]) / len(files["int8"]),
                         "sha256": hashlib.sha256(files[m]).hexdigest()})
        _write(rows)
    return 0


def _write(rows: list[dict[str, object]]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "int4_sizes.json").write_text(json.dumps(rows, indent=1))
    lines = ["| classes | mode | bytes | / float32 | / int8 (converter) |", "|---|---|---|---|---|"]
    lines += [f"| {r['classes']} | {r['mode']} | {r['size_bytes']:,} | {r['of_float32']:.3f} | {r['of_int8']:.3f} |"
              for r in rows]
    (OUT / "int4_sizes.md").write_text("# MobileNetV2 file size per quantization mode\n\n"
                                       "`benchmarks/int4_sizes.py` (litert-quantizer 0.11.0, TensorFlow 2.21).\n\n"
                                       + "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
