"""Keras -> deployable model files, in memory (bytes): ``.tflite`` per quantization mode."""

from workbench.convert.tflite import MODE_DOC, convert, convert_selective

__all__ = ["MODE_DOC", "convert", "convert_selective"]
