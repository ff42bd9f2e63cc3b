"""Keras -> deployable model files, in memory (bytes): ``.tflite`` per quantization mode (tflite.py), and
``.onnx`` for ONNX Runtime (onnx.py, imported by name: it loads tf2onnx)."""

from workbench.convert.tflite import MODE_DOC, convert, convert_selective

__all__ = ["MODE_DOC", "convert", "convert_selective"]
