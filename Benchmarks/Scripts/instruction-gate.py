#!/usr/bin/env python3
"""The performance regression gate: instruction counts of group-level operations.

Runs every (scenario, N) of instruction-gate under valgrind's callgrind, counting only the
measured step (`--toggle-collect=*countedStep*`), single-threaded (MLSKIT_MAX_CORES=1), with
deterministic hashing and a seeded random source, so the same binary counts the same on any
machine load (repeat runs differ by about 0.3 %). Compares with the committed baseline and
fails when any count grows more than the threshold (3 %).

Usage (from the repository root):
  python3 Benchmarks/Scripts/instruction-gate.py            # check against the baseline
  python3 Benchmarks/Scripts/instruction-gate.py --update   # after an intended change
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

SCENARIOS = ["create_add_welcome", "join_welcome", "commit_self_update", "process_commit", "app_message"]
SIZES = [16, 128]
BASELINE = "Benchmarks/instruction-baseline.tsv"
BINARY = "Benchmarks/.build/release/instruction-gate"


def count(scenario, n):
    """Instructions of one run's measured step."""
    env = dict(os.environ, MLSKIT_MAX_CORES="1", SWIFT_DETERMINISTIC_HASHING="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=*countedStep*", f"--callgrind-out-file={out}",
                              BINARY, "--scenario", scenario, "--n", str(n)], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"gate: {scenario} N={n} failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
        with open(out) as f:
            totals = [line for line in f if line.startswith("totals:") or line.startswith("summary:")]
    if not totals:
        sys.exit(f"gate: no totals in callgrind output for {scenario} N={n}")
    value = int(totals[-1].split()[1])
    if value == 0:
        sys.exit(f"gate: {scenario} N={n} counted nothing: is countedStep still in the binary?")
    return value


def load_baseline():
    baseline = {}
    if os.path.exists(BASELINE):
        for line in open(BASELINE):
            if line.startswith("#") or not line.strip():
                continue
            scenario, n, value = line.split("\t")
            baseline[(scenario, int(n))] = int(value)
    return baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the measured counts as the new baseline")
    parser.add_argument("--threshold", type=float, default=3.0, help="allowed growth in percent (default 3)")
    args = parser.parse_args()

    build = subprocess.run(["swift", "build", "-c", "release", "--package-path", "Benchmarks", "--product", "instruction-gate"])
    if build.returncode != 0:
        sys.exit("gate: instruction-gate did not build")

    baseline = load_baseline()
    rows, failures = [], []
    for scenario in SCENARIOS:
        for n in SIZES:
            now = count(scenario, n)
            base = baseline.get((scenario, n))
            change = None if base is None else (now - base) * 100.0 / base
            rows.append((scenario, n, base, now, change))
            if not args.update:
                if base is None:
                    failures.append(f"{scenario} N={n}: no baseline")
                elif change > args.threshold:
                    failures.append(f"{scenario} N={n}: +{change:.2f} %")

    print(f"{'operation':<22}{'N':>6}{'baseline':>16}{'now':>16}{'change':>10}")
    for scenario, n, base, now, change in rows:
        print(f"{scenario:<22}{n:>6}{base if base is not None else '-':>16}{now:>16}"
              f"{(f'{change:+.2f} %' if change is not None else '-'):>10}")

    if args.update:
        with open(BASELINE, "w") as f:
            f.write("# Instruction counts of instruction-gate's measured steps (Benchmarks/Scripts/instruction-gate.py).\n")
            f.write("# scenario\tN\tinstructions\n")
            for scenario, n, _, now, _ in rows:
                f.write(f"{scenario}\t{n}\t{now}\n")
        print(f"gate: baseline written to {BASELINE}")
        return
    if failures:
        print("gate: FAILED, counts grew beyond the threshold:\n  " + "\n  ".join(failures))
        print("If the growth is intended, run: python3 Benchmarks/Scripts/instruction-gate.py --update")
        sys.exit(1)
    print(f"gate: {len(rows)} operations within +{args.threshold:g} % of the baseline")


if __name__ == "__main__":
    main()
