"""Run a model file on any of the workbench's runtimes, in this process, to compute accuracy there.

Kernels differ between runtimes (and OpenVINO may compute a float model in bf16), so accuracy and
agreement are measured by running the test split on each runtime, never assumed from LiteRT. Imports
only NumPy and the runtime asked for (never TensorFlow). Timing is not done here: profile/ runs each
runtime in its own fresh process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.catalog import display_name, runtime
from workbench.errors import ModelFileError
from workbench.tflite_model import TfliteModel, bare_name, from_output, read_tflite, split_inputs, to_input


def predict_on(runtime_name: str, path: str | Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Float outputs of the model at ``path`` on runtime ``runtime_name`` for every sample of ``x`` (batch 1, as
    deployed), shape (N, classes). Integer outputs are dequantized; inputs are quantized as the model says.

    Raises:
        ModelFileError: the runtime cannot load, compile or run the model (one line, naming the runtime).
    """
    info = runtime(runtime_name)  # ValueError naming the known runtimes
    path = Path(path)
    x = _floats(x)
    try:
        return PREDICT[info.name](path, x, threads)
    except ModelFileError:
        raise
    except Exception as exc:  # the runtimes raise their own types; the message is what matters
        raise ModelFileError(f"{path.name}: {display_name(info.name)} cannot run it ({one_line(exc)})") from None


def predict_outputs_on(runtime_name: str, path: str | Path, x: np.ndarray, threads: int = 1) -> dict[str, np.ndarray]:
    """Every output of the model at ``path`` on ``runtime_name`` by name, in the model's order (the first is
    ``predict_on``'s): LiteRT and ONNX Runtime give each output by its own name; OpenVINO and MNN, which name the
    .tflite's tensors, give each by the name LiteRT gives it (the .tflite's signature), paired by tensor name or,
    failing that, by order (``pair_outputs``).

    Raises:
        ModelFileError: the runtime cannot load, compile or run the model (one line, naming the runtime).
    """
    info = runtime(runtime_name)
    path = Path(path)
    try:
        return PREDICT_ALL[info.name](path, _floats(x), threads)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{path.name}: {display_name(info.name)} cannot run it ({one_line(exc)})") from None


def pair_outputs(found: list[set[str]], tflite: list[str], ordered: bool = True) -> list[int]:
    """For each output a runtime gives (``found``: the tensor names it knows each by), the index of the .tflite
    output it is: by tensor name when every output matches exactly one, else by order when the runtime keeps the
    file's order (``ordered``) or there is one output. ValueError when the counts differ (the runtime dropped or
    added an output) or neither pairs them."""
    if len(found) != len(tflite):
        raise ValueError(f"it gives {len(found)} outputs, the .tflite {len(tflite)}")
    by_name = [[j for j, t in enumerate(tflite) if t in names] for names in found]
    if all(len(m) == 1 for m in by_name) and len({m[0] for m in by_name}) == len(by_name):
        return [m[0] for m in by_name]
    if not ordered and len(found) > 1:
        raise ValueError(f"its outputs ({', '.join(sorted(n for names in found for n in names))}) do not carry the "
                         f".tflite's tensor names ({', '.join(tflite)})")
    return list(range(len(found)))


def _floats(x: np.ndarray) -> np.ndarray:
    """Samples as float32; a structured array (several inputs, a float32 field each) as it is."""
    x = np.asarray(x)
    return x if x.dtype.names else x.astype(np.float32, copy=False)


def one_line(exc: BaseException) -> str:
    """The line of a runtime's error that says what went wrong: OpenVINO's messages start with lines of
    source locations ("Exception from src/...") and end with the reason."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith("Exception from ")]
    return (useful[-1] if useful else lines[0] if lines else type(exc).__name__)[:300]


def _predict_litert(path: Path, x: np.ndarray, threads: int) -> np.ndarray:
    return TfliteModel(read_tflite(path), num_threads=threads, source=str(path)).predict(x)


def _predict_litert_all(path: Path, x: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    return TfliteModel(read_tflite(path), num_threads=threads, source=str(path)).predict_outputs(x)


def _predict_onnxruntime(path: Path, x: np.ndarray, threads: int) -> np.ndarray:
    return next(iter(_predict_onnxruntime_all(path, x, threads).values()))


def _predict_onnxruntime_all(path: Path, x: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    arrays = split_inputs(x, [i.name for i in inputs])
    for k, i in enumerate(inputs):
        dtype = _ORT_INTEGERS.get(i.type)
        if dtype is not None:  # an integer input (a cast, token ids): the values themselves, as integers
            arrays[k] = np.rint(arrays[k]).astype(dtype)
    runs = [session.run(None, {i.name: a[n : n + 1] for i, a in zip(inputs, arrays, strict=True)})
            for n in range(len(x))]
    return {o.name: np.concatenate([r[k] for r in runs]).astype(np.float32)
            for k, o in enumerate(session.get_outputs())}


_ORT_INTEGERS = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(int8)": np.int8,
                 "tensor(uint8)": np.uint8, "tensor(int16)": np.int16}


def _tflite_io(path: Path) -> tuple[Any, list[Any], list[str]]:
    """The .tflite's input, outputs (IoInfo) and output names (the signature's), read with LiteRT: a runtime that
    reads a file converted from it (MNN) gets its outputs named as LiteRT names them."""
    m = TfliteModel(read_tflite(path), source=str(path))
    return m.inputs[0], m.outputs, m.output_names()


def _port_name(port: Any, k: int) -> str:
    try:
        return bare_name(port.get_any_name())
    except RuntimeError:  # an unnamed input: its position
        return str(k)


def _predict_openvino(path: Path, x: np.ndarray, threads: int) -> np.ndarray:
    return next(iter(_predict_openvino_all(path, x, threads).values()))


def _predict_openvino_all(path: Path, x: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    ports = list(model.inputs)
    tflite = path.suffix.lower() == ".tflite"
    if tflite:  # OpenVINO keeps an int8 model's integer I/O but not its scales: quantized as LiteRT would
        m = TfliteModel(read_tflite(path), source=str(path))
        tensors = {io.name: (io, name) for io, name in zip(m.inputs, m.input_names(), strict=True)}
        # each OpenVINO input is the .tflite's tensor of the same name (or, failing that, the same position)
        order = [next((tensors[n] for n in p.get_names() if n in tensors), (m.inputs[k], m.input_names()[k]))
                 for k, p in enumerate(ports)]
        arrays = [to_input(a, io) for a, (io, _) in
                  zip(split_inputs(x, [name for _, name in order]), order, strict=True)]
    else:
        arrays = split_inputs(x, [_port_name(p, k) for k, p in enumerate(ports)])
    model.reshape({k: ov.PartialShape([1, *a.shape[1:]]) for k, a in enumerate(arrays)})
    compiled: Any = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                      "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    outs = list(compiled.outputs)
    ys: list[list[np.ndarray]] = [[] for _ in outs]
    for i in range(len(x)):
        result = request.infer({k: a[i : i + 1] for k, a in enumerate(arrays)})
        for k, o in enumerate(outs):
            ys[k].append(np.array(result[o]))
    if not tflite:
        return {o.get_any_name(): np.concatenate(y).astype(np.float32) for o, y in zip(outs, ys, strict=True)}
    pairing = pair_outputs([set(o.get_names()) for o in outs], [io.name for io in m.outputs])
    got = {j: from_output(np.concatenate(y), m.outputs[j]) for j, y in zip(pairing, ys, strict=True)}
    names = m.output_names()
    return {names[j]: got[j] for j in range(len(m.outputs))}


def _feedable(tensor: Any) -> bool:
    """Whether MNN's Python API can hand over this tensor's data (it cannot for int8)."""
    try:
        return tensor.getNumpyData() is not None
    except (SystemError, TypeError):
        return False


def _predict_mnn(path: Path, x: np.ndarray, threads: int) -> np.ndarray:
    return next(iter(_predict_mnn_all(path, x, threads).values()))


def _predict_mnn_all(path: Path, x: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    """Every output of a .mnn, named as LiteRT names the .tflite it was converted from (``model.tflite`` beside
    ``model.mnn``), paired by tensor name (MNN keeps no order: one output pairs with one); without that file, or
    when the names do not pair, by MNN's own names."""
    import MNN

    if x.dtype.names and len(x.dtype.names) > 1:
        raise ValueError(f"the model has {len(x.dtype.names)} inputs; this workbench feeds MNN one input only")
    x = split_inputs(x, ["input"])[0]
    interpreter = MNN.Interpreter(str(path))
    session = interpreter.createSession({"backend": "CPU", "numThread": threads, "precision": "normal"})
    inp = interpreter.getSessionInput(session)
    outs = dict(interpreter.getSessionOutputAll(session))
    if not _feedable(inp):
        raise ValueError("its input has a type MNN's Python API cannot feed (integer I/O)")
    in_dim = inp.getDimensionType()
    ys: dict[str, list[np.ndarray]] = {name: [] for name in outs}
    for i in range(len(x)):
        inp.copyFrom(MNN.Tensor(x[i : i + 1].shape, MNN.Halide_Type_Float, np.ascontiguousarray(x[i : i + 1]), in_dim))
        interpreter.runSession(session)
        for name, out in outs.items():
            host = MNN.Tensor(out.getShape(), MNN.Halide_Type_Float, np.zeros(out.getShape(), np.float32),
                              out.getDimensionType())
            out.copyToHostTensor(host)
            ys[name].append(np.array(host.getNumpyData(), dtype=np.float32).reshape(1, -1))
    got = {name: np.concatenate(y) for name, y in ys.items()}
    source = path.with_suffix(".tflite")
    if not source.is_file():
        return got
    _, io_outs, names = _tflite_io(source)
    try:
        order = pair_outputs([{name} for name in got], [io.name for io in io_outs], ordered=False)
    except ValueError:  # by MNN's own names: what needs an output by name says it has none (a note, no metric)
        return got
    paired = dict(zip(order, got.values(), strict=True))
    return {names[j]: paired[j] for j in range(len(io_outs))}


#: catalogue name -> (model file, float samples, threads) -> float outputs; a unit test checks it covers the catalogue
PREDICT: dict[str, Callable[[Path, np.ndarray, int], np.ndarray]] = {
    "litert": _predict_litert,
    "onnxruntime": _predict_onnxruntime,
    "openvino": _predict_openvino,
    "mnn": _predict_mnn,
}
#: catalogue name -> (model file, float samples, threads) -> every output by name (for task metrics and fidelity)
PREDICT_ALL: dict[str, Callable[[Path, np.ndarray, int], dict[str, np.ndarray]]] = {
    "litert": _predict_litert_all,
    "onnxruntime": _predict_onnxruntime_all,
    "openvino": _predict_openvino_all,
    "mnn": _predict_mnn_all,
}
