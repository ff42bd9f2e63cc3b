"""The runtimes the workbench measures on, one frozen record each: the one place a runtime is declared.

A runtime runs one file format, made from the variant in one way (the ``.tflite`` itself, an ``.onnx``
exported from the Keras model, an ``.mnn`` converted from the ``.tflite`` by MNN's converter). The spec
validates ``runtime:`` / ``accelerator:`` against these records, the CLI offers their names, the views show
their display names, ``runtimes.py`` picks each runtime's file, and ``runtime_model.py`` / the profile
runner's ``runners/<name>.py`` hold the code that differs per runtime (a unit test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: how a runtime's file is made from the variant
Source = Literal["tflite", "keras"]


@dataclass(frozen=True)
class RuntimeInfo:
    """One runtime: what it runs, how its file is made, what it offers."""

    name: str  # the spec / CLI / metric-suffix name
    display: str  # for people: "ONNX Runtime"
    file_format: str  # the suffix of the file it runs for a variant: ".tflite", ".onnx", ".mnn"
    made_from: Source  # "tflite": the variant's .tflite itself or converted from it; "keras": exported from Keras
    how: str  # how that file is produced, in words (docs, help)
    package: str  # the pip distribution (its version is logged with every run)
    description: str  # one line
    also_reads: tuple[str, ...] = ()  # other formats `workbench profile FILE` accepts
    accelerators: tuple[str, ...] = ("cpu",)  # the first is the default
    #: options only this runtime has, with their defaults: another runtime refuses a non-default value
    own_options: dict[str, str] = field(default_factory=dict)
    remote_needs: str = ""  # what a remote device must have installed besides Python and NumPy

    @property
    def formats(self) -> tuple[str, ...]:
        """Every file suffix this runtime reads, its own first."""
        return (self.file_format, *self.also_reads)


RUNTIMES: dict[str, RuntimeInfo] = {r.name: r for r in (
    RuntimeInfo(
        name="litert", display="LiteRT", file_format=".tflite", made_from="tflite",
        how="the variant's .tflite", package="ai-edge-litert",
        description="Google's on-device runtime (TensorFlow Lite): interpreter or compiled-model API, XNNPACK",
        accelerators=("cpu", "gpu", "npu"),  # the compiled-model API's accelerators, without CPU fallback
        own_options={"api": "interpreter", "kernels": "optimized"}),
    RuntimeInfo(
        name="onnxruntime", display="ONNX Runtime", file_format=".onnx", made_from="keras",
        how="model.onnx exported from the Keras model (tf2onnx; integer modes by ONNX Runtime's quantizer)",
        package="onnxruntime", description="Microsoft's ONNX Runtime, one execution provider, no silent fallback",
        accelerators=("cpu", "cuda", "tensorrt")),  # execution providers
    RuntimeInfo(
        name="openvino", display="OpenVINO", file_format=".tflite", made_from="tflite",
        how="the variant's .tflite, compiled by OpenVINO", package="openvino", also_reads=(".onnx",),
        description="Intel's OpenVINO: compiles the .tflite (or an .onnx) for the CPU, bf16 where the CPU has it",
        accelerators=("cpu", "gpu", "npu")),  # devices
    RuntimeInfo(
        name="mnn", display="MNN", file_format=".mnn", made_from="tflite",
        how="model.mnn converted from the variant's .tflite by MNN's own converter (MNNConvert)", package="mnn",
        description="Alibaba's MNN mobile inference engine: session API on its CPU backend, precision normal"),
)}


def runtime_names() -> tuple[str, ...]:
    """Every runtime's name, in catalogue order (the first is the default)."""
    return tuple(RUNTIMES)


def runtime(name: str) -> RuntimeInfo:
    """The record of ``name``; ValueError naming the known runtimes otherwise."""
    try:
        return RUNTIMES[name]
    except KeyError:
        raise ValueError(f"unknown runtime '{name}'; known: {', '.join(RUNTIMES)}") from None


def display_name(name: str) -> str:
    """``"ONNX Runtime"`` for ``"onnxruntime"``; an unknown name is shown as it is."""
    info = RUNTIMES.get(name)
    return info.display if info else name


def accelerators() -> tuple[str, ...]:
    """Every accelerator any runtime offers, each once."""
    return tuple(dict.fromkeys(a for r in RUNTIMES.values() for a in r.accelerators))
