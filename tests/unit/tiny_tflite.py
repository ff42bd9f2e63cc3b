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
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    m.operatorCodes = [code]
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
    sig = schema.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = b"serving_default", 0
    sig.inputs, sig.outputs = [schema.TensorMapT()], [schema.TensorMapT()]
    sig.inputs[0].name, sig.inputs[0].tensorIndex = b"x", 0
    sig.outputs[0].name, sig.outputs[0].tensorIndex = b"y", 3
    m.signatureDefs = [sig]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))
