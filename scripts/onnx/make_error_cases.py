"""Writes the `.onnx` files of the `#[onnx]` compile-fail cases in `tests/ui/onnx/`.

Each file is small and deterministic (weights are simple arithmetic sequences, no random
numbers), written with `onnx.helper` the way PyTorch's exporter lays graphs out (opset 17,
IR version 8, a dynamic `batch` dimension). Run with the venv that has `onnx`:

    /work/venv-onnx/bin/python scripts/onnx/make_error_cases.py

The files:

- `tiny.onnx`: a valid model, `Gemm` 4 -> 2 then `Softmax` (`fc: Dense(2), Softmax`), used by
  the cases that get the attribute wrong rather than the file.
- `unsupported_op.onnx`: `Gemm`, then `HardSigmoid`, which has no `nn` layer.
- `grouped_conv.onnx`: a `Conv` with `group = 2` (weight `[4, 1, 3, 3]` on 2 channels).
- `pool_pads.onnx`: a `MaxPool` with a 2x2 window and pads of 2: valid for the importer, but
  `network!`'s own rule (pooling padding at most half the window) refuses it.
- `garbage.onnx`: bytes that are not a protobuf `ModelProto`.
"""

import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ui", "onnx")
)


def seq(n, scale=0.1, offset=0.0):
    """`n` floats: offset, offset + scale, ... (deterministic weights)."""
    return [offset + scale * i for i in range(n)]


def value(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *dims])


def weight(name, dims, values):
    return helper.make_tensor(name, TensorProto.FLOAT, dims, values)


def model(name, nodes, inputs, outputs, initializers, check=True):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    m = helper.make_model(
        graph,
        producer_name="scripts/onnx/make_error_cases.py",
        opset_imports=[helper.make_opsetid("", 17)],
    )
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m


def save(m, file):
    path = os.path.join(HERE, file)
    with open(path, "wb") as f:
        f.write(m.SerializeToString(deterministic=True))
    print(f"wrote {os.path.relpath(path)}")


def tiny():
    return model(
        "tiny",
        [
            helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm", transB=1),
            helper.make_node("Softmax", ["logits"], ["output"], name="/softmax/Softmax", axis=1),
        ],
        [value("input", [4])],
        [value("output", [2])],
        [weight("fc.weight", [2, 4], seq(8)), weight("fc.bias", [2], [0.5, -0.5])],
    )


def unsupported_op():
    return model(
        "unsupported_op",
        [
            helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["hidden"], name="/fc/Gemm", transB=1),
            helper.make_node("HardSigmoid", ["hidden"], ["output"], name="/act/HardSigmoid"),
        ],
        [value("input", [4])],
        [value("output", [3])],
        [weight("fc.weight", [3, 4], seq(12)), weight("fc.bias", [3], seq(3))],
    )


def grouped_conv():
    return model(
        "grouped_conv",
        [
            helper.make_node(
                "Conv",
                ["input", "conv.weight", "conv.bias"],
                ["output"],
                name="/conv/Conv",
                group=2,
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
            ),
        ],
        [value("input", [2, 6, 6])],
        [value("output", [4, 6, 6])],
        [weight("conv.weight", [4, 1, 3, 3], seq(36, 0.01)), weight("conv.bias", [4], seq(4))],
    )


def pool_pads():
    # A 2x2 window with 2 cells of padding on every side: PyTorch and network! allow at most
    # half the window (1).
    return model(
        "pool_pads",
        [
            helper.make_node(
                "MaxPool",
                ["input"],
                ["output"],
                name="/pool/MaxPool",
                kernel_shape=[2, 2],
                strides=[2, 2],
                pads=[2, 2, 2, 2],
            ),
        ],
        [value("input", [1, 4, 4])],
        [value("output", [1, 4, 4])],
        [],
    )


def main():
    save(tiny(), "tiny.onnx")
    save(unsupported_op(), "unsupported_op.onnx")
    save(grouped_conv(), "grouped_conv.onnx")
    save(pool_pads(), "pool_pads.onnx")
    garbage = os.path.join(HERE, "garbage.onnx")
    with open(garbage, "wb") as f:
        # 0xff bytes: a protobuf field key whose varint never ends.
        f.write(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffnot an ONNX model\n")
    print(f"wrote {os.path.relpath(garbage)}")


if __name__ == "__main__":
    main()
