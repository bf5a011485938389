#!/usr/bin/env python3
"""Writes a samples import file (docs/formats.md, samples) of N rows for the demo county's
suppliers, for measuring `coallab import samples` against the database's own loader
(docs/performance.md). Deterministic: row i is always the same.

usage: scripts/gen_samples_csv.py N > samples.csv
"""
import sys

SUPPLIERS = ["PE-01", "PE-02", "SP-01", "SP-02", "SP-03", "SP-04", "SP-05", "SP-06", "SP-07"]


def main() -> None:
    n = int(sys.argv[1])
    out = sys.stdout
    out.write("supplier_code,sampled_at,samplers,test_seal_no,retained_seal_no,"
              "coal_category,lot_no,mad,aad,st_ad\n")
    for i in range(n):
        day = 1 + (i * 300 // max(n, 1)) % 300
        month, mday = 1 + (day - 1) // 28, 1 + (day - 1) % 28
        mad = 1.5 + (i % 7) * 0.2
        aad = 10.0 + (i % 13) * 0.5
        st = 0.40 + (i % 11) * 0.05
        out.write(
            f"{SUPPLIERS[i % len(SUPPLIERS)]},2026-{month:02d}-{mday:02d}T{8 + i % 9:02d}:{i % 60:02d}:00+08:00,"
            f"张伟;刘洋,T{i:08d},B{i:08d},无烟块煤,LOT-{i},"
            f"{mad:.2f};{mad + 0.04:.2f},{aad:.2f};{aad + 0.10:.2f},{st:.2f};{st + 0.01:.2f}\n")


if __name__ == "__main__":
    main()
