#!/usr/bin/env python3
"""Combine several `floor-report --json` outputs into one Markdown table.

Usage: combine-floor-runs.py RUN1.jsonl [RUN2.jsonl ...]

On shared virtual machines a whole process can run 10-20 % slower than the next one (host
neighbours, memory placement), which `--rounds` inside one process cannot average out. Running
the report as several processes and combining them here gives, per row: the median over runs of
`median_ms` and of `floor_ms`, their ratio, and the range of the per-run ratios. When the
report's standard error was saved beside a run as RUN.err (RUN.jsonl → RUN.err), the median of the
`cores busy` figures it logged is added as a column.
"""
import json
import os
import re
import statistics
import sys

ORDER = ["tree_hash_cold", "tree_hash_cached", "commit_update_path", "process_update_path", "join_validate", "add_all"]


def main(paths):
    rows = {}
    busy = {}
    for path in paths:
        err = os.path.splitext(path)[0] + ".err"
        if os.path.exists(err):
            with open(err) as f:
                for line in f:
                    m = re.match(r"(\w+) (\w+) (\d+): .*cores busy ([\d.]+)", line)
                    if m:
                        busy.setdefault((m[1], m[2], int(m[3])), []).append(float(m[4]))
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                key = (r["suite"], r["n"], r["shape"], r["op"])
                rows.setdefault(key, []).append(r)
    shapes = {"blank": 0, "full": 1, "churn": 2}
    keys = sorted(rows, key=lambda k: (k[0], k[1], shapes.get(k[2], 9), ORDER.index(k[3]) if k[3] in ORDER else 99))
    with_busy = bool(busy)
    print("| op | shape | N | suite | median ms | floor ms | ratio | ratio range | runs |" + (" busy |" if with_busy else ""))
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_busy else ""))
    for k in keys:
        rs = rows[k]
        med = statistics.median(r["median_ms"] for r in rs)
        flo = statistics.median(r["floor_ms"] for r in rs)
        ratios = [r["ratio"] for r in rs]
        op = k[3] + (" *" if k[3].startswith("tree_hash") else "")
        line = f"| {op} | {k[2]} | {k[1]} | {k[0]} | {fmt(med)} | {fmt(flo)} | {med / flo:.2f} | {min(ratios):.2f}–{max(ratios):.2f} | {len(rs)} |"
        if with_busy:
            b = busy.get((k[3], k[2], k[1]))
            line += f" {statistics.median(b):.2f} |" if b else " |"
        print(line)


def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
