"""Keras -> deployable model files, in memory (bytes): ``.tflite`` per quantization mode (tflite.py), ``.onnx``
for ONNX Runtime (onnx.py, imported by name: it loads tf2onnx), and a float ``.tflite`` rewritten by the LiteRT
Quantizer (quantizer.py: no TensorFlow, so the supervising process may import it by name).

The names below load ``tflite.py`` (TensorFlow) on first use, not when the package is imported: importing
``workbench.convert.quantizer`` must not pull TensorFlow in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.convert.tflite import MODE_DOC, convert, convert_selective

__all__ = ["MODE_DOC", "convert", "convert_selective"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from workbench.convert import tflite

        return getattr(tflite, name)
    raise AttributeError(f"module 'workbench.convert' has no attribute '{name}'")
