#!/usr/bin/env python3
"""Compile ap_fixed_oracle.cpp against the ap_types headers inside the installed hls4ml
package, run it, and write tests/fixtures/hls4ml/ap_fixed_casts.json.

Usage: /work/venv-hls4ml/bin/python scripts/hls4ml/make_ap_fixed_casts.py [--out FILE]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import hls4ml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "hls4ml" / "ap_fixed_casts.json")
    args = ap.parse_args()
    ap_types = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "oracle"
        flags = ["-O3", "-std=c++17", "-w"]
        subprocess.run(["g++", *flags, f"-I{ap_types}", str(HERE / "ap_fixed_oracle.cpp"), "-o", str(exe)],
                       check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    doubles, from_double, sources, casts, products, sums = [], {}, {}, {}, [], []
    # cast_sources: the raw inputs of each source type, recorded from its first target
    arith = {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "D":
            spec, d, r = f[1], f[2], int(f[3])
            from_double.setdefault(spec, []).append(r)
            if len(from_double) == 1:
                doubles.append(d)
        elif f[0] == "C":
            src, dst, ri, ro = f[1], f[2], int(f[3]), int(f[4])
            key = (src, dst)
            if key not in casts:
                casts[key] = []
                if src in sources and len(sources[src]) and not sources.get(src + "#done"):
                    sources[src + "#done"] = True
            casts[key].append(ro)
            if not sources.get(src + "#done"):
                sources.setdefault(src, []).append(ri)
        else:
            a, b, ra, rb, w, i, s, r = f[1], f[2], int(f[3]), int(f[4]), int(f[5]), int(f[6]), f[7] == "1", int(f[8])
            entry = arith.setdefault((f[0], a, b), {"a": a, "b": b, "width": w, "int_bits": i, "signed": s,
                                                     "a_raw": [], "b_raw": [], "raw": []})
            entry["a_raw"].append(ra)
            entry["b_raw"].append(rb)
            entry["raw"].append(r)
    sources = {k: v for k, v in sources.items() if not k.endswith("#done")}
    for (src, dst), raws in casts.items():
        assert len(raws) == len(sources[src]), (src, dst)
    for key, entry in arith.items():
        (products if key[0] == "M" else sums).append(entry)
    n_double = sum(len(v) for v in from_double.values())
    n_cast = sum(len(v) for v in casts.values())
    n_arith = sum(len(e["raw"]) for e in arith.values())

    def line(obj):
        return json.dumps(obj, separators=(",", ":"))

    parts = ['{',
             f' "generator": "scripts/hls4ml/make_ap_fixed_casts.py (ap_fixed_oracle.cpp)",',
             f' "ap_types": "hls4ml {hls4ml.__version__} templates/vivado/ap_types",',
             ' "spec_format": "W,I,S,Q,O: width, integer bits, 1 if signed, quantization, overflow mode",',
             ' "raw_format": "two\'s-complement integer of the stored bits (sign-extended); value = raw * 2^(I - W)",',
             f' "doubles_hex": {line(doubles)},',
             ' "from_double": [',
             ",\n".join(f'  {line({"spec": k, "raw": v})}' for k, v in from_double.items()) + "\n ],",
             ' "cast_sources": [',
             ",\n".join(f'  {line({"spec": k, "raw": v})}' for k, v in sources.items()) + "\n ],",
             ' "casts": [',
             ",\n".join(f'  {line({"from": s, "to": d, "raw": v})}' for (s, d), v in casts.items()) + "\n ],",
             ' "products": [',
             ",\n".join(f'  {line(e)}' for e in products) + "\n ],",
             ' "sums": [',
             ",\n".join(f'  {line(e)}' for e in sums) + "\n ]",
             '}']
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts) + "\n")
    print(f"wrote {args.out}: {n_double} conversions from double ({len(from_double)} types x {len(doubles)} doubles), "
          f"{n_cast} casts ({len(casts)} type pairs), {n_arith} products and sums", file=sys.stderr)


if __name__ == "__main__":
    main()
