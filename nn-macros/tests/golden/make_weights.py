#!/usr/bin/env python3
"""Writes the safetensors fixtures of the golden test (`src/golden_tests.rs`): small files with
distinct, exactly representable values, so the golden output shows each tensor's layout change.
Run from this directory: `python3 make_weights.py` (standard library only)."""
import json, struct


def write(path, tensors):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def f32(shape, start, values=None):
    n = 1
    for d in shape:
        n *= d
    if values is None:
        values = [start + k / 8 for k in range(n)]
    return ("F32", shape, struct.pack(f"<{n}f", *values))


# For `Baked` in the golden test: Conv2d without bias, BatchNorm2d, per-channel PReLU, Conv2d with
# bias, Flatten, Dense, scalar PReLU, Dense.
write("weights.safetensors", {
    "conv.weight": f32([2, 1, 2, 2], 1.0),
    "bn.weight": f32([2], 2.0),
    "bn.bias": f32([2], 3.0),
    "bn.running_mean": f32([2], 4.0),
    "bn.running_var": f32([2], 5.0),
    "bn.num_batches_tracked": ("I64", [], struct.pack("<q", 7)),
    "act.weight": f32([2], 6.0),
    "conv2.weight": f32([2, 2, 1, 1], 7.0),
    "conv2.bias": f32([2], 8.0),
    "fc.weight": f32([3, 8], 9.0),
    "fc.bias": f32([3], 10.0),
    "p.weight": f32([1], 11.0),
    "out.weight": f32([2, 3], 12.0),
    "out.bias": f32([2], 13.0),
})

# A file with a wrong dtype, a NaN and a tensor no layer has.
write("bad.safetensors", {
    "fc.weight": ("F16", [2, 4], b"\x00\x3c" * 8),
    "fc.bias": f32([2], 0.0, [1.0, float("nan")]),
    "extra.weight": f32([1], 0.5),
})
