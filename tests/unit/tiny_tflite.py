"""A float32 .tflite built without TensorFlow (LiteRT's flatbuffer schema), for unit tests of code that
reads or rewrites .tflite files: one FULLY_CONNECTED layer, ``[1, inputs] -> [1, outputs]``."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils


def _tensor(name: str, shape: list[int], buffer: int) -> schema.TensorT:
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), np.array(shape, np.int32), schema.TensorType.FLOAT32, buffer
    return t


def _buffer(data: np.ndarray | None = None) -> schema.BufferT:
    b = schema.BufferT()
    b.data = None if data is None else np.frombuffer(data.astype(np.float32).tobytes(), np.uint8)
    return b


def _fully_connected_code() -> schema.OperatorCodeT:
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    return code


def _signature(output: int) -> schema.SignatureDefT:
    """``serving_default``: input ``x`` (tensor 0), output ``y`` (tensor ``output``) of subgraph 0."""
    sig = schema.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = b"serving_default", 0
    sig.inputs, sig.outputs = [schema.TensorMapT()], [schema.TensorMapT()]
    sig.inputs[0].name, sig.inputs[0].tensorIndex = b"x", 0
    sig.outputs[0].name, sig.outputs[0].tensorIndex = b"y", output
    return sig


def dense_tflite(inputs: int = 64, outputs: int = 32, seed: int = 0) -> bytes:
    """``y = x @ W.T + b`` with seeded normal weights, as a float32 .tflite with a ``serving_default``
    signature (input ``x``, output ``y``)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(outputs, inputs)).astype(np.float32)
    bias = rng.normal(size=(outputs,)).astype(np.float32)
    m = schema.ModelT()
    m.version = 3
    m.description = b"workbench test: one dense layer"
    m.buffers = [_buffer(), _buffer(), _buffer(weights), _buffer(bias), _buffer()]
    m.operatorCodes = [_fully_connected_code()]
    g = schema.SubGraphT()
    g.name = b"main"
    g.tensors = [_tensor("x", [1, inputs], 1), _tensor("dense/kernel", [outputs, inputs], 2),
                 _tensor("dense/bias", [outputs], 3), _tensor("y", [1, outputs], 4)]
    g.inputs, g.outputs = np.array([0], np.int32), np.array([3], np.int32)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, np.array([0, 1, 2], np.int32), np.array([3], np.int32)
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    g.operators = [op]
    m.subgraphs = [g]
    m.signatureDefs = [_signature(3)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def mlp_tflite(widths: tuple[int, ...] = (64, 48, 32, 16), seed: int = 0) -> bytes:
    """``len(widths) - 1`` FULLY_CONNECTED layers in a chain (``x -> h0 -> h1 -> ... -> y``), seeded normal
    weights, as a float32 .tflite with a ``serving_default`` signature: a graph with several nodes to colour."""
    rng = np.random.default_rng(seed)
    m = schema.ModelT()
    m.version = 3
    m.description = b"workbench test: a chain of dense layers"
    m.operatorCodes = [_fully_connected_code()]
    g = schema.SubGraphT()
    g.name = b"main"
    m.buffers, g.tensors, g.operators = [_buffer(), _buffer()], [_tensor("x", [1, widths[0]], 1)], []
    prev = 0
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        last = i == len(widths) - 2
        for name, data in ((f"dense{i}/kernel", rng.normal(size=(n_out, n_in))), (f"dense{i}/bias", rng.normal(size=n_out))):
            m.buffers.append(_buffer(data))
            g.tensors.append(_tensor(name, list(data.shape), len(m.buffers) - 1))
        m.buffers.append(_buffer())
        g.tensors.append(_tensor("y" if last else f"h{i}", [1, n_out], len(m.buffers) - 1))
        op = schema.OperatorT()
        out = len(g.tensors) - 1
        op.opcodeIndex, op.inputs, op.outputs = 0, np.array([prev, out - 2, out - 1], np.int32), np.array([out], np.int32)
        op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
        op.builtinOptions = schema.FullyConnectedOptionsT()
        g.operators.append(op)
        prev = out
    g.inputs, g.outputs = np.array([0], np.int32), np.array([prev], np.int32)
    m.subgraphs = [g]
    m.signatureDefs = [_signature(prev)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))
