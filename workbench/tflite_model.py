"""A .tflite model on the LiteRT runtime: run it, read its weights, describe its tensors.

Imports only the LiteRT runtime and NumPy (never TensorFlow), so it serves evaluation in the notebook
and inspection in tests alike. Profiling does not use this: it runs in its own process (profile/).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.errors import ModelFileError
from workbench.files import refuse_special

KERNEL_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}


def check_tflite_bytes(content: bytes, source: str) -> None:
    """Cheap structural check before handing bytes to the runtime (which may crash on garbage)."""
    if len(content) < 16:
        raise ModelFileError(f"{source}: {len(content)} bytes is too short to be a .tflite model")
    if content[4:8] != b"TFL3":
        raise ModelFileError(f"{source}: not a .tflite model (missing the TFL3 file identifier)")
    root = int.from_bytes(content[0:4], "little")
    if root >= len(content):
        raise ModelFileError(f"{source}: truncated or corrupt .tflite (root table offset beyond end of file)")


@dataclass(frozen=True)
class IoInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int


def to_input(x: np.ndarray, io: IoInfo) -> np.ndarray:
    """Samples as the input tensor takes them. Quantized (``x / scale + zero_point``, rounded and clipped) only
    when the tensor is integer with quantization parameters (an int8 model's input) and the data is float; an
    integer input without them (a cast to int32, Embedding token ids) gets the values themselves."""
    dtype = np.dtype(io.dtype)
    if dtype.kind == "f":
        return x.astype(dtype)
    if io.scale == 0.0 or x.dtype.kind != "f":  # not a quantized tensor, or integer data: passed as is
        return (np.rint(x) if x.dtype.kind == "f" else x).astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / io.scale + io.zero_point), info.min, info.max).astype(dtype)


def bare_name(name: str) -> str:
    """An input's name as the Keras model called it: converters add ``serving_default_`` and ``:0``."""
    return name.split(":")[0].removeprefix("serving_default_")


def match_inputs(model_inputs: list[str], given: tuple[str, ...] | list[str]) -> list[str]:
    """For each of a model file's inputs (by name, in its order), the name of the samples that feed it: the same
    name, or the Keras name a converter decorated (``serving_default_image:0`` <- ``image``). ValueError naming
    the inputs without samples."""
    if len(model_inputs) == 1 and len(given) == 1:
        return [given[0]]
    out, missing = [], []
    for name in model_inputs:
        hit = name if name in given else next((g for g in given if g == bare_name(name)), None)
        if hit is None:
            missing.append(name)
        else:
            out.append(hit)
    if missing:
        raise ValueError(f"no samples for input(s) {', '.join(missing)} (the samples are named "
                         f"{', '.join(given)}); name them after the model's inputs")
    return out


def split_inputs(x: np.ndarray, model_inputs: list[str]) -> list[np.ndarray]:
    """Samples for each of a model file's inputs, in its order: one plain array for a one-input model, or the
    fields of a structured array (``workbench.data.Dataset``: one per input) matched by name."""
    names = x.dtype.names
    if not names:
        if len(model_inputs) != 1:
            raise ValueError(f"the model has {len(model_inputs)} inputs ({', '.join(model_inputs)}) but the samples "
                             "are one array; give one array per input, by name")
        return [x]
    return [np.asarray(x[f]) for f in match_inputs(model_inputs, names)]


def from_output(y: np.ndarray, io: IoInfo) -> np.ndarray:
    """Outputs as float32: dequantized when the tensor has quantization parameters, else the values themselves."""
    if np.dtype(io.dtype).kind == "f" or io.scale == 0.0:
        return y.astype(np.float32)
    return (y.astype(np.float32) - io.zero_point) * io.scale


class TfliteModel:
    """LiteRT Interpreter over in-memory .tflite bytes, without default delegates (exact reference kernels
    are not needed: XNNPACK is used for speed unless ``xnnpack=False``)."""

    def __init__(self, content: bytes, num_threads: int = 1, xnnpack: bool = True, source: str = "<bytes>",
                 preserve_all_tensors: bool = False) -> None:
        from ai_edge_litert import interpreter as litert

        check_tflite_bytes(content, source)
        resolver = litert.OpResolverType.AUTO if xnnpack else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self._interp = litert.Interpreter(
                model_content=content, num_threads=num_threads, experimental_op_resolver_type=resolver,
                experimental_preserve_all_tensors=preserve_all_tensors,
            )
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{source}: LiteRT cannot load it ({str(exc).strip().splitlines()[0]})") from None
        self.content = content
        self.source = source

    @property
    def inputs(self) -> list[IoInfo]:
        return [self._io(d) for d in self._interp.get_input_details()]

    @property
    def outputs(self) -> list[IoInfo]:
        return [self._io(d) for d in self._interp.get_output_details()]

    @staticmethod
    def _io(d: dict[str, Any]) -> IoInfo:
        scale, zp = d.get("quantization", (0.0, 0))
        return IoInfo(d["name"], np.dtype(d["dtype"]).name, tuple(int(s) for s in d["shape"]), float(scale), int(zp))

    def ops(self) -> list[dict[str, Any]]:
        return list(self._interp._get_ops_details())

    def op_names(self) -> list[str]:
        return [op["op_name"] for op in self.ops()]

    def input_names(self) -> list[str]:
        """The inputs' names in ``inputs`` order: the signature's (a Keras model's input names) where the file has
        one, else the tensors' own names."""
        return self._signature_names("inputs", self._interp.get_input_details())

    def _signature_names(self, which: str, details: list[dict[str, Any]]) -> list[str]:
        full = getattr(self._interp, "_get_full_signature_list", None)  # LiteRT's, with the tensor indices
        sigs = (full() if full is not None else None) or {}
        by_index = {int(i): name for sig in sigs.values() for name, i in sig.get(which, {}).items()}
        named = [by_index.get(int(d["index"])) for d in details]
        return [str(n) for n in named] if all(named) and len(set(named)) == len(named) else [d["name"] for d in details]

    @property
    def interpreter(self) -> Any:
        """The LiteRT interpreter itself (per-tensor analysis reads its intermediate tensors)."""
        return self._interp

    def feeds(self, x: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(input tensor index, samples as that tensor takes them) for every input; ModelFileError when the
        samples do not name the model's inputs."""
        details = self._interp.get_input_details()
        try:
            arrays = split_inputs(np.asarray(x), self.input_names())
        except ValueError as exc:
            raise ModelFileError(f"{self.source}: {exc}") from None
        return [(int(d["index"]), to_input(a, io)) for d, io, a in zip(details, self.inputs, arrays, strict=True)]

    def run(self, feeds: list[tuple[int, np.ndarray]], i: int) -> None:
        """Set sample ``i`` of every input (``feeds``) and invoke once."""
        for index, a in feeds:
            self._interp.set_tensor(index, a[i : i + 1])
        self._interp.invoke()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run every sample (batch 1, as deployed) and return float outputs, shape (N, classes). ``x``: one array,
        or for a model with several inputs a structured array with a field per input (by name)."""
        out = self._interp.get_output_details()[0]["index"]
        feeds = self.feeds(x)
        results = []
        for i in range(len(x)):
            self.run(feeds, i)
            results.append(self._interp.get_tensor(out).copy())
        return from_output(np.concatenate(results, axis=0), self.outputs[0])

    def output_names(self) -> list[str]:
        """The outputs' names in ``outputs`` order: the signature's (a Keras model's output names) where the file
        has one, else the tensors' own names."""
        return self._signature_names("outputs", self._interp.get_output_details())

    def predict_outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for every sample (batch 1, as deployed), dequantized to float: output name -> (N, ...),
        in ``outputs`` order (the first is what ``predict`` returns)."""
        details = self._interp.get_output_details()
        feeds = self.feeds(x)
        results: list[list[np.ndarray]] = [[] for _ in details]
        for i in range(len(x)):
            self.run(feeds, i)
            for k, d in enumerate(details):
                results[k].append(self._interp.get_tensor(d["index"]).copy())
        out = {}
        for name, d, ys in zip(self.output_names(), details, results, strict=True):
            y = np.concatenate(ys, axis=0)
            scale, zp = d["quantization"]
            out[name] = y.astype(np.float32) if np.dtype(d["dtype"]).kind == "f" else (y.astype(np.float32) - zp) * scale
        return out

    def kernel_tensors(self) -> dict[str, np.ndarray]:
        """The weight kernels of conv / fully-connected ops, as stored (int8, float16 or float32).

        A kernel behind a DEQUANTIZE op (float16 models) is read from the op's constant input.
        """
        producers = {int(o): op for op in self.ops() for o in op["outputs"]}
        details = {d["index"]: d for d in self._interp.get_tensor_details()}
        kernels: dict[str, np.ndarray] = {}
        for op in self.ops():
            pos = KERNEL_OPS.get(op["op_name"])
            if pos is None or len(op["inputs"]) <= pos:
                continue
            idx = int(op["inputs"][pos])
            prod = producers.get(idx)
            if prod is not None and prod["op_name"] == "DEQUANTIZE":
                idx = int(prod["inputs"][0])
            try:
                value = self._interp.get_tensor(idx)
            except ValueError:
                continue  # not a constant (computed at run time)
            kernels[details[idx]["name"] or f"tensor_{idx}"] = np.array(value)
        return kernels


def sparsity(kernels: dict[str, np.ndarray]) -> float:
    """Fraction of exact zeros over all kernel elements (for int8 kernels, the stored zero)."""
    total = sum(k.size for k in kernels.values())
    zeros = sum(int(np.count_nonzero(k == 0)) for k in kernels.values())
    return zeros / total if total else 0.0


def max_unique_values(kernels: dict[str, np.ndarray]) -> int:
    """The largest number of distinct values held by any one kernel."""
    return max((int(np.unique(k).size) for k in kernels.values()), default=0)


def max_unique_per_channel(kernels: dict[str, np.ndarray]) -> int:
    """The largest number of distinct values in any one output channel of any kernel. Per-channel int8
    quantization gives each channel its own scale, so clusters survive per channel, not per kernel.
    TFLite stores conv / fully-connected kernels output-channel first (depthwise: last)."""
    best = 0
    for name, k in kernels.items():
        axis = k.ndim - 1 if "depthwise" in name.lower() else 0
        per = np.moveaxis(k, axis, 0).reshape(k.shape[axis], -1)
        best = max(best, max(int(np.unique(row).size) for row in per))
    return best


def predicted_classes(scores: np.ndarray) -> np.ndarray:
    """The class each sample is given: the index of its highest score, or, for one score per sample (a binary
    classifier's single sigmoid output: the probability of class 1), 1 when it is above 0.5 and 0 otherwise, as
    Keras's binary accuracy decides."""
    s = np.asarray(scores)
    s = s.reshape(len(s), -1)
    if s.shape[1] == 1:
        return (s[:, 0] > 0.5).astype(np.int64)
    return np.argmax(s, axis=1)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose predicted class (``predicted_classes``) is their label."""
    return float(np.mean(predicted_classes(logits) == np.asarray(labels).reshape(-1)))


def agreement(logits: np.ndarray, reference_top1: np.ndarray) -> float:
    """Fraction of samples given the same class as the float model gave them."""
    return float(np.mean(predicted_classes(logits) == reference_top1))


def gzip_size(content: bytes) -> int:
    """Size after gzip at level 9: what a download or an app bundle compresses to."""
    import gzip

    return len(gzip.compress(content, compresslevel=9, mtime=0))


def read_tflite(path: str | os.PathLike[str]) -> bytes:
    """Read and structurally check a .tflite file."""
    refuse_special(path, ".tflite model", ModelFileError)  # `ln -s /dev/zero m.tflite` would never end
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, expected a .tflite file") from None
    check_tflite_bytes(content, str(path))
    return content


def weights_digest(values: np.ndarray) -> str:
    """An order-free digest of a weight tensor: SHA-1 of its values as sorted float32 (16 hex digits). The
    OpenVINO runner (``profile/runners/openvino.py``, ``_weights``) computes the same of the constants it runs,
    so a node OpenVINO renamed and transposed is found again by its weights."""
    import hashlib

    return hashlib.sha1(np.sort(np.asarray(values, dtype=np.float32).ravel()).tobytes()).hexdigest()[:16]


def op_weights(content: bytes) -> list[dict[str, Any]]:
    """Every op of the first subgraph, in order: its output tensors' names and the ``weights_digest`` of each
    constant input with 16 values or more (read from the flatbuffer: no interpreter)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    dtypes = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16,
              schema.TensorType.INT8: np.int8, schema.TensorType.UINT8: np.uint8,
              schema.TensorType.INT32: np.int32}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    dequantized = {}  # a DEQUANTIZE op's output -> its input (float16 / int8 weights dequantized at run time)
    for op in graph.operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.DEQUANTIZE:
            dequantized[int(op.outputs[0])] = int(op.inputs[0])
    out = []
    for op in graph.operators:
        digests = []
        for i in op.inputs if op.inputs is not None else []:
            if i < 0:
                continue
            t = graph.tensors[dequantized.get(int(i), int(i))]
            data = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
            if data is None or t.type not in dtypes:
                continue
            values = np.frombuffer(bytes(data), dtype=dtypes[t.type])
            if values.size >= 16:
                digests.append(weights_digest(values))
        out.append({"outputs": [graph.tensors[i].name.decode() for i in op.outputs if i >= 0],
                    "weights": digests})
    return out
