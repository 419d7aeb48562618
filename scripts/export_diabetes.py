"""Export scikit-learn's diabetes regression data to data/diabetes.csv.

Usage (from anywhere):

    python3 -m venv /tmp/sk && /tmp/sk/bin/pip install scikit-learn
    /tmp/sk/bin/python scripts/export_diabetes.py

Writes 442 rows, no header: the ten baseline variables in their original units
(age, sex, bmi, bp, s1..s6; `load_diabetes(scaled=False)`) followed by the
target (disease progression one year after baseline). Every value is rounded to
float32 and written as the shortest decimal that parses back to the same
float32, so Rust's `str::parse::<f32>` reads exactly these numbers. The script
checks that round trip and the row count, and exits non-zero if either fails.
"""

import pathlib
import sys

import numpy as np
import sklearn
from sklearn.datasets import load_diabetes

OUT = pathlib.Path(__file__).resolve().parent.parent / "data" / "diabetes.csv"


def fmt(v: np.float32) -> str:
    # Shortest decimal that uniquely identifies this float32; "-" drops a trailing ".0".
    return np.format_float_positional(v, unique=True, trim="-")


def main() -> int:
    data = load_diabetes(scaled=False)
    x = np.asarray(data.data, dtype=np.float32)
    y = np.asarray(data.target, dtype=np.float32)
    if x.shape != (442, 10) or y.shape != (442,):
        print(f"unexpected shapes {x.shape} {y.shape}", file=sys.stderr)
        return 1
    rows = np.column_stack([x, y]).astype(np.float32)
    lines = [",".join(fmt(v) for v in row) for row in rows]
    # Round-trip check: parse back as float32 and compare bit for bit.
    back = np.array(
        [[np.float32(field) for field in line.split(",")] for line in lines],
        dtype=np.float32,
    )
    if not np.array_equal(back.view(np.uint32), rows.view(np.uint32)):
        print("float32 round trip failed", file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(
        f"wrote {OUT} ({len(lines)} rows, {rows.shape[1]} columns) "
        f"from scikit-learn {sklearn.__version__} load_diabetes(scaled=False)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
