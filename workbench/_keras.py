"""The one place that selects Keras 2 (``tf_keras``) for TensorFlow Model Optimization.

tfmot 0.8 works only with Keras 2 objects. TensorFlow 2.16+ ships Keras 3 as ``tf.keras`` unless
``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported, so this module sets it first and every
other module imports ``keras``, ``tf`` and ``tfmot`` from here. Never import ``keras`` directly.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the converter's INFO chatter hides real messages

import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

if os.environ["TF_USE_LEGACY_KERAS"] != "1":  # pragma: no cover - a user overrode it before import
    raise ImportError("TF_USE_LEGACY_KERAS must be 1: tensorflow-model-optimization needs Keras 2 (tf_keras)")



def tflite_mlir_quantize() -> Any:
    """The converter's internal ``mlir_quantize`` (selective quantization: calibrate, then quantize with a
    denylist). Not public TensorFlow API, so it is reached only through this module."""
    from tensorflow.lite.python import convert as tfl_convert

    return tfl_convert.mlir_quantize


__all__ = ["keras", "tf", "tflite_mlir_quantize", "tfmot"]
