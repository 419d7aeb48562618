#!/usr/bin/env python3
"""Writes the ONNX files that nn-bench feeds to tract: M1-M4 of shared/MODELS.md.

The graphs are built by hand with the `onnx` package's helper API (no PyTorch). The weights are
seeded He-normal draws (the timing does not depend on their values); the batch dimension is the
symbol "N", which nn-bench fixes to 1 or 256 before tract optimizes the model.

    python3 -m venv /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install -r nn-bench/scripts/requirements.txt
    /tmp/onnx-venv/bin/python nn-bench/scripts/make_onnx.py      # writes nn-bench/onnx/m{1..4}.onnx

Each model is checked with onnx.checker and run once with onnx's reference evaluator (output
shape [2, classes], rows summing to 1) before it is written.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OPSET = 13
IR_VERSION = 8
OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))


class Builder:
    """Accumulates nodes and initializers of one sequential graph."""

    def __init__(self, name, input_shape, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.input = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape])
        self.cur = "input"
        self.count = 0

    def _next(self, kind):
        self.count += 1
        return f"{kind}_{self.count}"

    def _init(self, name, array):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def _node(self, op, inputs, **attrs):
        out = self._next(op.lower())
        self.nodes.append(helper.make_node(op, [self.cur, *inputs], [out], name=out, **attrs))
        self.cur = out

    def dense(self, fan_in, units):
        # PyTorch layout [out, in]: Gemm with transB = 1.
        base = self._next("fc")
        w = self._init(base + ".weight", self.rng.normal(0, np.sqrt(2 / fan_in), (units, fan_in)))
        b = self._init(base + ".bias", self.rng.normal(0, 0.05, (units,)))
        self._node("Gemm", [w, b], transB=1)

    def conv2d(self, cin, cout, k, pad=0, stride=1):
        base = self._next("conv")
        w = self._init(base + ".weight", self.rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k)))
        b = self._init(base + ".bias", self.rng.normal(0, 0.05, (cout,)))
        self._node("Conv", [w, b], kernel_shape=[k, k], pads=[pad] * 4, strides=[stride] * 2)

    def conv1d(self, cin, cout, k, pad=0, stride=1):
        base = self._next("conv")
        w = self._init(base + ".weight", self.rng.normal(0, np.sqrt(2 / (cin * k)), (cout, cin, k)))
        b = self._init(base + ".bias", self.rng.normal(0, 0.05, (cout,)))
        self._node("Conv", [w, b], kernel_shape=[k], pads=[pad] * 2, strides=[stride])

    def maxpool2d(self, k):
        self._node("MaxPool", [], kernel_shape=[k, k], strides=[k, k])

    def relu(self):
        self._node("Relu", [])

    def flatten(self):
        self._node("Flatten", [], axis=1)

    def softmax(self):
        self._node("Softmax", [], axis=-1)

    def model(self, classes):
        self.nodes[-1].output[0] = "output"
        out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", classes])
        graph = helper.make_graph(self.nodes, self.name, [self.input], [out], self.inits)
        m = helper.make_model(
            graph,
            producer_name="nn-bench/scripts/make_onnx.py",
            opset_imports=[helper.make_opsetid("", OPSET)],
        )
        m.ir_version = IR_VERSION
        onnx.checker.check_model(m, full_check=True)
        return m


def m1():
    b = Builder("M1", [16], 1)
    b.dense(16, 64); b.relu()
    b.dense(64, 32); b.relu()
    b.dense(32, 32); b.relu()
    b.dense(32, 5)
    b.softmax()
    return b.model(5), [16]


def m2():
    b = Builder("M2", [1, 8, 8], 2)
    b.conv2d(1, 8, 3, pad=1); b.relu(); b.maxpool2d(2)
    b.conv2d(8, 16, 3, pad=1); b.relu(); b.maxpool2d(2)
    b.flatten()
    b.dense(64, 10)
    b.softmax()
    return b.model(10), [1, 8, 8]


def m3():
    b = Builder("M3", [1, 28, 28], 3)
    b.conv2d(1, 6, 5); b.relu(); b.maxpool2d(2)
    b.conv2d(6, 16, 5); b.relu(); b.maxpool2d(2)
    b.flatten()
    b.dense(256, 120); b.relu()
    b.dense(120, 84); b.relu()
    b.dense(84, 10)
    b.softmax()
    return b.model(10), [1, 28, 28]


def m4():
    b = Builder("M4", [1, 40], 4)
    b.conv1d(1, 32, 5, pad=2); b.relu()
    b.conv1d(32, 32, 3, pad=1, stride=2); b.relu()
    b.conv1d(32, 32, 3, pad=1, stride=2); b.relu()
    b.flatten()
    b.dense(320, 10)
    b.softmax()
    return b.model(10), [1, 40]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, build in [("m1", m1), ("m2", m2), ("m3", m3), ("m4", m4)]:
        model, shape = build()
        x = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
        (y,) = ReferenceEvaluator(model).run(None, {"input": x})
        assert y.shape[0] == 2 and np.allclose(y.sum(axis=1), 1.0, atol=1e-5), (name, y)
        path = os.path.join(OUT_DIR, name + ".onnx")
        onnx.save(model, path)
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        print(f"{path}: {params} parameters, output {y.shape}")


if __name__ == "__main__":
    main()
