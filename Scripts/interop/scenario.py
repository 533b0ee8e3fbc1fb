#!/usr/bin/env python3
"""Live interoperability scenario between two `mls interop` JSON-lines drivers.

    python3 Scripts/interop/scenario.py --a mlsrs --b mlskit
    python3 Scripts/interop/scenario.py --a "python3 Scripts/interop/mlsrs_driver.py" \
                                        --b "swift run -c release mls interop"

`--a` / `--b` take a command line, or one of the aliases `mlsrs` (the mls-rs
driver beside this file) and `mlskit` (.build/release/mls interop). The
scenario runs twice: A creates the group and B joins, then the roles swap
with fresh clients. Each step prints one line; the last line is
`N passed, M failed` (plus `, K skipped`), and the exit status is 1 when
anything failed. Every request has a timeout, so a hung driver fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

EXPORT_LABEL = "interop"
EXPORT_CONTEXT = "00"
EXPORT_LENGTH = 32

WIRE_FORMATS = {1: "PublicMessage", 2: "PrivateMessage", 3: "Welcome", 4: "GroupInfo", 5: "KeyPackage"}


def resolve_command(spec: str) -> list:
    if spec == "mlsrs":
        venv_python = os.path.join(HERE, ".venv", "bin", "python")
        python = venv_python if os.path.exists(venv_python) else sys.executable
        return [python, os.path.join(HERE, "mlsrs_driver.py")]
    if spec == "mlskit":
        return [os.path.join(REPO, ".build", "release", "mls"), "interop"]
    return shlex.split(spec)


class DriverFailure(Exception):
    """A request that could not be answered: the driver died, hung or said something unreadable."""


class Driver:
    def __init__(self, name: str, spec: str, timeout: float, trace):
        self.name = name
        self.spec = spec
        self.timeout = timeout
        self.trace = trace
        self.proc = None
        self.lines = None
        self.start()

    def start(self):
        command = resolve_command(self.spec)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None, text=True, bufsize=1)
        self.lines = queue.Queue()
        proc, lines = self.proc, self.lines

        def pump():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self):
        self.stop()
        self.start()

    def request(self, req: dict) -> dict:
        if not self.alive():
            raise DriverFailure(f"driver {self.name} is not running")
        line = json.dumps(req)
        if self.trace:
            self.trace.write(f"{self.name} > {line}\n")
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError as e:
            raise DriverFailure(f"driver {self.name}: cannot write request: {e}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise DriverFailure(f"driver {self.name}: no reply to {req['op']!r} within {self.timeout:g} s")
            try:
                reply_line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if reply_line is None:
                raise DriverFailure(f"driver {self.name} exited (status {self.proc.wait()}) during {req['op']!r}")
            if not reply_line.strip():
                continue
            if self.trace:
                self.trace.write(f"{self.name} < {reply_line.rstrip()}\n")
                self.trace.flush()
            try:
                reply = json.loads(reply_line)
            except json.JSONDecodeError:
                raise DriverFailure(f"driver {self.name}: reply is not JSON: {reply_line.strip()[:200]}") from None
            if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
                raise DriverFailure(f"driver {self.name}: reply lacks a boolean 'ok': {reply_line.strip()[:200]}")
            return reply

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class StepFailed(Exception):
    pass


def is_unsupported(reply: dict) -> bool:
    return not reply.get("ok") and str(reply.get("error", "")).startswith("unsupported")


def wire_format(hex_message: str) -> str:
    try:
        code = int(hex_message[4:8], 16)
    except (TypeError, ValueError):
        return "?"
    return WIRE_FORMATS.get(code, f"wire format {code}")


class Runner:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def line(self, status: str, label: str, detail: str = ""):
        text = f"{status:<5} {label}"
        if detail:
            text += f": {detail}"
        self.out.write(text + "\n")
        self.out.flush()

    def ok(self, label: str, detail: str = ""):
        self.passed += 1
        self.line("PASS", label, detail)

    def fail(self, label: str, detail: str):
        self.failed += 1
        self.line("FAIL", label, detail)

    def skip(self, label: str, detail: str):
        self.skipped += 1
        self.line("SKIP", label, detail)

    def call(self, label: str, driver: Driver, req: dict) -> dict:
        """A request that must succeed; any failure fails the step and ends the direction."""
        try:
            reply = driver.request(req)
        except DriverFailure as e:
            self.fail(label, str(e))
            raise StepFailed from None
        if not reply["ok"]:
            self.fail(label, f"{driver.name} answered {req['op']!r} with error: {reply.get('error')}")
            raise StepFailed
        return reply

    def expect(self, label: str, condition: bool, detail: str, fatal: bool = True) -> bool:
        if condition:
            self.ok(label, detail)
            return True
        self.fail(label, detail)
        if fatal:
            raise StepFailed
        return False

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text


def field(label: str, runner: Runner, reply: dict, name: str, kind):
    value = reply.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        runner.fail(label, f"reply lacks a {getattr(kind, '__name__', kind)} field {name!r}: {json.dumps(reply)[:200]}")
        raise StepFailed
    return value


def run_direction(runner: Runner, creator: Driver, joiner: Driver, tag: str, tree_mode: str):
    prefix = f"[{creator.name} creates, {joiner.name} joins]"
    cid = f"{creator.name}-creator-{tag}"
    jid = f"{joiner.name}-joiner-{tag}"
    group_id = f"interop-{tag}".encode().hex()

    def label(text):
        return f"{prefix} {text}"

    def compare_state(when: str, expected_epoch: int):
        lab = label(f"state after {when}")
        cs = runner.call(lab, creator, {"op": "state", "id": cid})
        js = runner.call(lab, joiner, {"op": "state", "id": jid})
        problems = []
        if cs.get("epoch") != expected_epoch or js.get("epoch") != expected_epoch:
            problems.append(f"epochs {cs.get('epoch')} / {js.get('epoch')}, expected {expected_epoch}")
        if sorted(cs.get("members") or []) != sorted(js.get("members") or []):
            problems.append(f"members {cs.get('members')} / {js.get('members')}")
        if cs.get("leaf_index") == js.get("leaf_index"):
            problems.append(f"both claim leaf {cs.get('leaf_index')}")
        runner.expect(lab, not problems,
                      "; ".join(problems) if problems else
                      f"epoch {expected_epoch}, members {cs.get('members')}, "
                      f"leaves {cs.get('leaf_index')} / {js.get('leaf_index')}",
                      fatal=False)
        return cs, js

    def compare_secrets(when: str):
        checks = [
            ("export_secret", {"op": "export_secret", "label": EXPORT_LABEL, "context": EXPORT_CONTEXT,
                               "length": EXPORT_LENGTH}),
            ("epoch_authenticator", {"op": "epoch_authenticator"}),
        ]
        for name, base in checks:
            lab = label(f"{name} after {when}")
            replies = []
            for driver, client in ((creator, cid), (joiner, jid)):
                try:
                    replies.append((driver, driver.request(dict(base, id=client))))
                except DriverFailure as e:
                    runner.fail(lab, str(e))
                    raise StepFailed from None
            unsupported = [d.name for d, r in replies if is_unsupported(r)]
            if unsupported:
                runner.skip(lab, f"unsupported by {', '.join(unsupported)}")
                continue
            errors = [f"{d.name}: {r.get('error')}" for d, r in replies if not r["ok"]]
            if errors:
                runner.fail(lab, "; ".join(errors))
                continue
            a, b = replies[0][1].get("data"), replies[1][1].get("data")
            runner.expect(lab, isinstance(a, str) and a == b and len(a) > 0,
                          f"equal ({a[:16]}...)" if a == b and a else f"{creator.name} {a} != {joiner.name} {b}",
                          fatal=False)

    def send(sender: Driver, sid: str, receiver: Driver, rid: str, text: str, expected_epoch: int):
        lab = label(f"application message {sender.name} -> {receiver.name} ({text!r})")
        plaintext = text.encode().hex()
        enc = runner.call(lab, sender, {"op": "encrypt", "id": sid, "data": plaintext})
        ciphertext = field(lab, runner, enc, "data", str)
        got = runner.call(lab, receiver, {"op": "process", "id": rid, "message": ciphertext})
        problems = []
        if wire_format(ciphertext) != "PrivateMessage":
            problems.append(f"sent as {wire_format(ciphertext)}")
        if got.get("kind") != "application":
            problems.append(f"kind {got.get('kind')!r}")
        if got.get("data") != plaintext:
            problems.append(f"plaintext {got.get('data')!r} != {plaintext!r}")
        if got.get("epoch") != expected_epoch:
            problems.append(f"epoch {got.get('epoch')}, expected {expected_epoch}")
        runner.expect(lab, not problems, "; ".join(problems) if problems else
                      f"decrypted, {len(ciphertext) // 2} B PrivateMessage")

    def update(committer: Driver, committer_id: str, other: Driver, other_id: str, expected_epoch: int):
        lab = label(f"self_update by {committer.name}, processed by {other.name}")
        up = runner.call(lab, committer, {"op": "self_update", "id": committer_id})
        commit = field(lab, runner, up, "commit", str)
        got = runner.call(lab, other, {"op": "process", "id": other_id, "message": commit})
        problems = []
        if got.get("kind") != "commit":
            problems.append(f"kind {got.get('kind')!r}")
        if got.get("removed"):
            problems.append("receiver reports removed")
        if got.get("epoch") != expected_epoch:
            problems.append(f"epoch {got.get('epoch')}, expected {expected_epoch}")
        runner.expect(lab, not problems, "; ".join(problems) if problems else
                      f"commit as {wire_format(commit)}, epoch {expected_epoch}")
        compare_state(f"{committer.name}'s update", expected_epoch)
        compare_secrets(f"{committer.name}'s update")

    # -- the scenario ---------------------------------------------------------------
    lab = label("new clients")
    runner.call(lab, creator, {"op": "new", "id": cid, "suite": 1})
    runner.call(lab, joiner, {"op": "new", "id": jid, "suite": 1})
    runner.ok(lab, f"{cid}, {jid}")

    lab = label(f"{creator.name} creates group")
    runner.call(lab, creator, {"op": "create", "id": cid, "group_id": group_id})
    st = runner.call(lab, creator, {"op": "state", "id": cid})
    runner.expect(lab, st.get("epoch") == 0 and st.get("members") == [st.get("leaf_index")],
                  f"epoch {st.get('epoch')}, members {st.get('members')}")

    lab = label(f"{joiner.name} publishes KeyPackage")
    kp = field(lab, runner, runner.call(lab, joiner, {"op": "key_package", "id": jid}), "data", str)
    runner.expect(lab, wire_format(kp) == "KeyPackage", f"{len(kp) // 2} B {wire_format(kp)}")

    lab = label(f"{creator.name} adds {joiner.name}")
    add = runner.call(lab, creator, {"op": "add", "id": cid, "key_packages": [kp]})
    commit = field(lab, runner, add, "commit", str)
    welcome = field(lab, runner, add, "welcome", str)
    runner.expect(lab, wire_format(welcome) == "Welcome",
                  f"commit as {wire_format(commit)}, {len(welcome) // 2} B {wire_format(welcome)}, "
                  f"group_info {'present' if add.get('group_info') else 'absent'}")

    lab = label(f"{joiner.name} joins by Welcome ({'out-of-band tree' if tree_mode == 'oob' else 'tree from Welcome'})")
    join_req = {"op": "join", "id": jid, "welcome": welcome}
    if tree_mode == "oob":
        join_req["ratchet_tree"] = field(lab, runner, add, "ratchet_tree", str)
    joined = runner.call(lab, joiner, join_req)
    runner.expect(lab, joined.get("epoch") == 1, f"epoch {joined.get('epoch')}")

    epoch = 1
    cs, js = compare_state("join", epoch)
    joiner_leaf = js.get("leaf_index")
    compare_secrets("join")

    send(creator, cid, joiner, jid, f"hello from {creator.name}", epoch)
    send(joiner, jid, creator, cid, f"hello from {joiner.name}", epoch)

    epoch += 1
    update(creator, cid, joiner, jid, epoch)
    epoch += 1
    update(joiner, jid, creator, cid, epoch)

    send(creator, cid, joiner, jid, f"after updates, from {creator.name}", epoch)
    send(joiner, jid, creator, cid, f"after updates, from {joiner.name}", epoch)

    lab = label(f"{creator.name} removes {joiner.name} (leaf {joiner_leaf}), processed by {joiner.name}")
    if not isinstance(joiner_leaf, int):
        runner.fail(lab, f"unknown joiner leaf index {joiner_leaf!r}")
        raise StepFailed
    rm = runner.call(lab, creator, {"op": "remove", "id": cid, "leaf_index": joiner_leaf})
    commit = field(lab, runner, rm, "commit", str)
    got = runner.call(lab, joiner, {"op": "process", "id": jid, "message": commit})
    problems = []
    if got.get("kind") != "commit":
        problems.append(f"kind {got.get('kind')!r}")
    if got.get("removed") is not True:
        problems.append(f"removed is {got.get('removed')!r}, expected true")
    runner.expect(lab, not problems, "; ".join(problems) if problems else
                  f"commit as {wire_format(commit)}, removed: true", fatal=False)

    epoch += 1
    lab = label(f"{creator.name}'s state after the removal")
    st = runner.call(lab, creator, {"op": "state", "id": cid})
    runner.expect(lab, st.get("epoch") == epoch and st.get("members") == [st.get("leaf_index")],
                  f"epoch {st.get('epoch')}, members {st.get('members')}", fatal=False)

    lab = label(f"removed {joiner.name} refuses to encrypt")
    try:
        reply = joiner.request({"op": "encrypt", "id": jid, "data": "00"})
    except DriverFailure as e:
        runner.fail(lab, str(e))
        raise StepFailed from None
    runner.expect(lab, not reply["ok"], f"error: {reply.get('error')}" if not reply["ok"] else
                  "encrypt succeeded after removal", fatal=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="driver A: command line, or alias mlsrs / mlskit")
    parser.add_argument("--b", required=True, help="driver B: command line, or alias mlsrs / mlskit")
    parser.add_argument("--name-a", default=None, help="display name of A (default: alias or 'A')")
    parser.add_argument("--name-b", default=None, help="display name of B (default: alias or 'B')")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each reply (default 60)")
    parser.add_argument("--tree", choices=["welcome", "oob"], default="welcome",
                        help="joiner takes the ratchet tree from the Welcome (default) or out of band from add")
    parser.add_argument("--trace", metavar="FILE", help="log every request and reply to FILE")
    args = parser.parse_args(argv)

    def display(spec, explicit, fallback):
        if explicit:
            return explicit
        return spec if spec in ("mlsrs", "mlskit") else fallback

    name_a = display(args.a, args.name_a, "A")
    name_b = display(args.b, args.name_b, "B")
    if name_a == name_b:
        name_a, name_b = name_a + "-A", name_b + "-B"

    trace = open(args.trace, "w") if args.trace else None
    runner = Runner()
    drivers = []
    try:
        try:
            a = Driver(name_a, args.a, args.timeout, trace)
            drivers.append(a)
            b = Driver(name_b, args.b, args.timeout, trace)
            drivers.append(b)
        except OSError as e:
            runner.fail("start drivers", str(e))
            print(runner.summary())
            return 1
        for tag, creator, joiner in (("1", a, b), ("2", b, a)):
            for d in (creator, joiner):
                if not d.alive():
                    d.restart()
            try:
                run_direction(runner, creator, joiner, tag, args.tree)
            except StepFailed:
                runner.line("----", f"[{creator.name} creates, {joiner.name} joins] stopped after the failure above")
    finally:
        for d in drivers:
            d.stop()
        if trace:
            trace.close()
    print(runner.summary())
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
