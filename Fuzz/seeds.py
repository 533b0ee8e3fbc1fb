#!/usr/bin/env python3
"""Writes binary seed corpora for the fuzz targets into Fuzz/corpus/<target>/ (git-ignored).

Sources: the official mlswg test vectors (hex fields of the JSON files) and the vectors our own
`mls vectors generate DIR` writes; both are read at fuzz time, never committed.

    seeds.py OUT_DIR VECTOR_DIR [VECTOR_DIR...]
"""
import hashlib
import json
import os
import sys

# JSON field -> targets that take it as-is. MLSMessage-framed fields also go to FuzzMLSMessage.
FIELDS = {
    "mls_group_info": ["FuzzGroupInfo", "FuzzMLSMessage"],
    "mls_key_package": ["FuzzKeyPackage", "FuzzMLSMessage"],
    "key_package": ["FuzzKeyPackage", "FuzzMLSMessage"],
    "mls_welcome": ["FuzzWelcome", "FuzzMLSMessage"],
    "welcome": ["FuzzWelcome", "FuzzMLSMessage"],
    "public_message_application": ["FuzzMLSMessage"],
    "public_message_proposal": ["FuzzMLSMessage"],
    "public_message_commit": ["FuzzMLSMessage"],
    "private_message": ["FuzzMLSMessage"],
    "application_priv": ["FuzzMLSMessage"],
    "proposal_priv": ["FuzzMLSMessage"],
    "proposal_pub": ["FuzzMLSMessage"],
    "commit_priv": ["FuzzMLSMessage"],
    "commit_pub": ["FuzzMLSMessage"],
    "commit": ["FuzzMLSMessage"],
}
# ratchet_tree bodies: FuzzRatchetTree reads a one-byte suite id first.
TREE_FIELDS = {"ratchet_tree", "tree", "tree_before", "tree_after"}
MAX_SEED = 1 << 20


def is_hex(s):
    return isinstance(s, str) and len(s) >= 2 and len(s) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in s)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    counts = {}

    def write(target, data):
        if not data or len(data) > MAX_SEED:
            return
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(d, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            counts[target] = counts.get(target, 0) + 1

    def walk(obj, suite):
        if isinstance(obj, dict):
            suite = obj.get("cipher_suite", suite)
            for key, value in obj.items():
                if is_hex(value):
                    data = bytes.fromhex(value)
                    for target in FIELDS.get(key, []):
                        write(target, data)
                    if key in TREE_FIELDS:
                        s = suite if isinstance(suite, int) and 0 < suite < 256 else 1
                        write("FuzzRatchetTree", bytes([s]) + data)
                else:
                    walk(value, suite)
        elif isinstance(obj, list):
            for item in obj:
                walk(item, suite)

    for vector_dir in sys.argv[2:]:
        if not os.path.isdir(vector_dir):
            print(f"seeds: skipping missing {vector_dir}", file=sys.stderr)
            continue
        for name in sorted(os.listdir(vector_dir)):
            if name.endswith(".json"):
                with open(os.path.join(vector_dir, name)) as f:
                    try:
                        walk(json.load(f), None)
                    except json.JSONDecodeError as e:
                        print(f"seeds: {name}: {e}", file=sys.stderr)
    # The stateful targets read their input as a stream of choices; a few short streams pick
    # each scenario with no mutation (an exhausted stream means "keep the valid value").
    for target in ("FuzzJoin", "FuzzExternalJoin", "FuzzProcess"):
        for first in range(8):
            write(target, bytes([first]))
            write(target, bytes([first, 1, 1]))
    for target, n in sorted(counts.items()):
        print(f"seeds: {target}: {n} new")


if __name__ == "__main__":
    main()
