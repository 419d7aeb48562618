"""Writes the int8 twin files of the `#[weights_int8]` compile-fail cases (no dependencies).

`tiny_int8.safetensors` is a valid file for the twin of
`struct Tiny { input: [4], fc: Dense(2), Softmax }` (the layout of nn-core's
`train::int8_io`); the others each break it in one way. Run from anywhere:
`python3 tests/ui/weights-int8/make_fixtures.py`.
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def tensor(dtype, shape, values):
    fmt = {"I8": "b", "I32": "i", "F32": "f"}[dtype]
    return dtype, shape, struct.pack("<%d%s" % (len(values), fmt), *values)


def valid():
    return {
        "tensors.0.scale": tensor("F32", [], [0.05]),
        "tensors.0.zero_point": tensor("I32", [], [3]),
        "tensors.1.scale": tensor("F32", [], [0.1]),
        "tensors.1.zero_point": tensor("I32", [], [-5]),
        "tensors.2.scale": tensor("F32", [], [1.0 / 256]),
        "tensors.2.zero_point": tensor("I32", [], [-128]),
        "fc.weight": tensor("I8", [2, 4], [10, -20, 30, -40, 50, -60, 70, -80]),
        "fc.bias": tensor("I32", [2], [100, -100]),
        "fc.weight_scale": tensor("F32", [2], [0.01, 0.02]),
    }


def write(name, tensors, metadata=None):
    if metadata is None:
        metadata = {"format": "nn-int8/1", "rounding": "FixedPoint", "network": "TinyInt8"}
    header, data = {"__metadata__": metadata}, b""
    for key, (dtype, shape, raw) in tensors.items():
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


write("tiny_int8.safetensors", valid())

missing = valid()
del missing["fc.bias"]
write("missing_bias.safetensors", missing)

dtype = valid()
dtype["fc.bias"] = tensor("F32", [2], [100.0, -100.0])
write("f32_bias.safetensors", dtype)

bad = valid()
bad["fc.weight"] = tensor("I8", [2, 4], [10, -20, 30, -40, 50, -128, 70, -80])
bad["tensors.1.scale"] = tensor("F32", [], [0.0])
bad["tensors.2.zero_point"] = tensor("I32", [], [200])
write("bad_values.safetensors", bad)

# The twin of `struct TinyTanh { input: [4], fc: Dense(2), act: Tanh, Softmax }`: the tanh is a
# lookup table `act.table` (tensor 2 is its output); any int8 entry is valid.
tanh = valid()
tanh["tensors.2.scale"] = tensor("F32", [], [1.0 / 128])
tanh["tensors.2.zero_point"] = tensor("I32", [], [0])
tanh["tensors.3.scale"] = tensor("F32", [], [1.0 / 256])
tanh["tensors.3.zero_point"] = tensor("I32", [], [-128])
tanh["act.table"] = tensor("I8", [256], [max(-127, min(127, (k - 128) // 2 + (k % 7) - 3)) for k in range(256)])
write("tiny_tanh_int8.safetensors", tanh, {"format": "nn-int8/1", "rounding": "Double", "network": "TinyTanhInt8"})
