"""The one place that selects Keras 2 (``tf_keras``) for TensorFlow Model Optimization.

tfmot 0.8 works only with Keras 2 objects. TensorFlow 2.16+ ships Keras 3 as ``tf.keras`` unless
``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported, so this module sets it first and every
other module imports ``keras``, ``tf`` and ``tfmot`` from here. Never import ``keras`` directly.

``tfmot`` is imported on first use (``_LazyModule``): it imports Keras 3 and scikit-learn, about 40% of
this module's import time, and a variant that only converts (post-training quantization: most variants)
never uses it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the converter's INFO chatter hides real messages


@contextmanager
def _start_up_lines_held() -> Iterator[None]:
    """Hold what is written to file descriptor 2 during the block, and give it back only if the block fails.

    TensorFlow's C++ start-up lines ("All log messages before absl::InitializeLog()", oneDNN, CUDA probing)
    are written before any log level applies, so TF_CPP_MIN_LOG_LEVEL cannot silence them: held here, they
    never precede (or bury) the one error line a user should read.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


with _start_up_lines_held():
    import tensorflow as tf
    import tf_keras as keras

    tf.config.list_physical_devices()  # the device probe ("failed call to cuInit") runs now, while held

# in an interactive session (a notebook kernel) TensorFlow sets its logger to INFO and prints a line for every
# SavedModel the converter writes; warnings and errors still show
tf.get_logger().setLevel(logging.WARNING)

if os.environ["TF_USE_LEGACY_KERAS"] != "1":  # pragma: no cover - a user overrode it before import
    raise ImportError("TF_USE_LEGACY_KERAS must be 1: tensorflow-model-optimization needs Keras 2 (tf_keras)")


class _LazyModule:
    """A module imported when one of its attributes is first read (``tfmot.sparsity...``), start-up lines held
    as above; ``import`` statements elsewhere stay as they are."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            import importlib

            with _start_up_lines_held():
                self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazily imported module {self._name!r}{'' if self._module is None else ' (imported)'}>"


tfmot: Any = _LazyModule("tensorflow_model_optimization")



def tflite_mlir_quantize() -> Any:
    """The converter's internal ``mlir_quantize`` (selective quantization: calibrate, then quantize with a
    denylist). Not public TensorFlow API, so it is reached only through this module."""
    from tensorflow.lite.python import convert as tfl_convert

    return tfl_convert.mlir_quantize


def tf2onnx_from_keras() -> Any:
    """``tf2onnx.convert.from_keras`` (Keras -> ONNX). tf2onnx imports TensorFlow itself, so it is reached only
    through this module, after Keras 2 is selected."""
    import tf2onnx

    return tf2onnx.convert.from_keras


__all__ = ["keras", "tf", "tf2onnx_from_keras", "tflite_mlir_quantize", "tfmot"]
