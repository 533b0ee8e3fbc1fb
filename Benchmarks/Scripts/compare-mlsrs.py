#!/usr/bin/env python3
"""The same-run race: MLSKit against AWS mls-rs, the same workload, interleaved in one run.

Both stacks are driven over the same wire interface, the `mls interop` JSON-lines protocol
(../shared/design/interop-protocol.md): MLSKit through `mls interop` (a release build), mls-rs
through Scripts/interop/mlsrs_driver.py (the PyPI binding agentvault-mls-rs-uniffi, suite 1,
which Scripts/interop/setup.sh installs). For each group size N and round, each stack:

  1. makes N - 1 KeyPackages of fresh clients (not timed),
  2. create + add N - 1: creates a group and commits adding them all, with the Welcome, whose
     GroupInfo carries the ratchet tree (timed together),
  3. join: the last new member joins from that Welcome (timed),
  4. self-update: the creator commits an UpdatePath (timed),
  5. process: the joiner processes that commit (timed).

Each time is the harness's round trip for one request: the operation plus hex and JSON both
ways, the same protocol cost on both sides (it matters only for the large add and join). The
order of the two stacks alternates between rounds. The table shows medians and the ratio
mls-rs time / MLSKit time (above 1: MLSKit is faster).

    python3 Benchmarks/Scripts/compare-mlsrs.py --sizes 128,1024,4096 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "Scripts", "interop"))
from scenario import Driver  # noqa: E402  (the interop harness's driver wrapper)

OPS = ["create + add N-1", "join", "self-update", "process"]


def timed(driver: Driver, req: dict) -> tuple[dict, float]:
    start = time.perf_counter()
    reply = driver.request(req)
    elapsed = time.perf_counter() - start
    if not reply.get("ok"):
        raise SystemExit(f"{driver.name}: {req['op']} failed: {reply.get('error')}")
    return reply, elapsed


def workload(driver: Driver, n: int, tag: str) -> dict:
    """One run of the workload at size n; returns seconds per operation."""
    a, b = f"{tag}-a", f"{tag}-b"
    for cid in [a, b] + [f"{tag}-m{i}" for i in range(n - 2)]:
        timed(driver, {"op": "new", "id": cid, "suite": 1})
    key_packages = [timed(driver, {"op": "key_package", "id": f"{tag}-m{i}"})[0]["data"] for i in range(n - 2)]
    key_packages.append(timed(driver, {"op": "key_package", "id": b})[0]["data"])
    times = {}
    _, t_create = timed(driver, {"op": "create", "id": a, "group_id": tag.encode().hex()})
    add, t_add = timed(driver, {"op": "add", "id": a, "key_packages": key_packages})
    times["create + add N-1"] = t_create + t_add
    _, times["join"] = timed(driver, {"op": "join", "id": b, "welcome": add["welcome"]})
    update, times["self-update"] = timed(driver, {"op": "self_update", "id": a})
    processed, times["process"] = timed(driver, {"op": "process", "id": b, "message": update["commit"]})
    if processed.get("kind") != "commit":
        raise SystemExit(f"{driver.name}: the joiner did not process the commit: {processed}")
    # Both members must agree, or the timings measured different things.
    ea = timed(driver, {"op": "epoch_authenticator", "id": a})[0]["data"]
    eb = timed(driver, {"op": "epoch_authenticator", "id": b})[0]["data"]
    if ea != eb:
        raise SystemExit(f"{driver.name}: members disagree after the commit at N = {n}")
    return times


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description="MLSKit against mls-rs, same workload, same run.")
    parser.add_argument("--sizes", default="128,1024,4096")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mls", default=os.path.join(REPO, ".build", "release", "mls"),
                        help="the MLSKit CLI (default: the release build; built when missing)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    subprocess.run([os.path.join(REPO, "Scripts", "interop", "setup.sh")], check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(args.mls):
        subprocess.run(["swift", "build", "-c", "release", "--product", "mls"], cwd=REPO, check=True)
    stacks = {"mls-rs": "mlsrs", "MLSKit": f"{args.mls} interop"}

    results = {(stack, n): {op: [] for op in OPS} for stack in stacks for n in sizes}
    for n in sizes:
        for r in range(args.rounds):
            order = list(stacks) if r % 2 == 0 else list(reversed(stacks))
            for stack in order:
                # A fresh process per run: no state carried over from the previous sizes.
                driver = Driver(stack, stacks[stack], timeout=3600, trace=None)
                try:
                    times = workload(driver, n, f"n{n}r{r}")
                finally:
                    driver.stop()
                for op in OPS:
                    results[(stack, n)][op].append(times[op])
                print(f"  N={n} round {r + 1} {stack}: " + ", ".join(f"{op} {fmt(times[op])}" for op in OPS), flush=True)

    print()
    print(f"suite 1, medians of {args.rounds} interleaved rounds; ratio = mls-rs time / MLSKit time (above 1: MLSKit faster)")
    print(f"| N | operation | mls-rs | MLSKit | ratio |")
    print(f"|---:|---|---:|---:|---:|")
    for n in sizes:
        for op in OPS:
            rs = statistics.median(results[("mls-rs", n)][op])
            ours = statistics.median(results[("MLSKit", n)][op])
            print(f"| {n} | {op} | {fmt(rs)} | {fmt(ours)} | {rs / ours:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
