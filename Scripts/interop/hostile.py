#!/usr/bin/env python3
"""Feeds `mls interop` hostile requests (../shared/design/interop-protocol.md: "No request, however
hostile its bytes, may end the process other than quit"). Every hostile request must get one reply
with "ok": false, the controls must still succeed afterwards, and `quit` must end the process with
status 0. Usage: hostile.py MLS-BINARY"""
import json
import subprocess
import sys

binary = sys.argv[1]
proc = subprocess.Popen([binary, "interop"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def ask(line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    reply = proc.stdout.readline()
    if not reply:
        sys.exit(f"hostile: the process died on {line[:80]!r}")
    return json.loads(reply)


def must(line, ok):
    reply = ask(line)
    if reply.get("ok") is not ok:
        sys.exit(f"hostile: expected ok={ok} for {line[:80]!r}, got {reply}")
    return reply


must('{"op":"new","id":"A","suite":1}', True)
must('{"op":"create","id":"A","group_id":"0102"}', True)
must('{"op":"new","id":"B","suite":1}', True)
kp = must('{"op":"key_package","id":"B"}', True)["data"]

hostile = [
    "not json",
    "[1,2,3]",
    "{}",
    '{"op":"no_such_op","id":"A"}',
    '{"op":"new","id":"C","suite":65537}',
    '{"op":"new","id":"C","suite":-1}',
    '{"op":"new","id":"C","suite":1e300}',
    '{"op":"remove","id":"A","leaf_index":-1}',
    '{"op":"remove","id":"A","leaf_index":4294967296}',
    '{"op":"remove","id":"A","leaf_index":2147483648}',
    '{"op":"export_secret","id":"A","label":"x","context":"","length":-1}',
    '{"op":"export_secret","id":"A","label":"x","context":"","length":9223372036854775807}',
    '{"op":"process","id":"A","message":"zz"}',
    '{"op":"process","id":"A","message":"' + "00" * 100000 + '"}',
    '{"op":"process","id":"A","message":"0001000300"}',
    '{"op":"join","id":"B","welcome":"' + kp + '"}',
    '{"op":"join","id":"B","welcome":"00010003' + "ff" * 64 + '"}',
    '{"op":"external_join","id":"B","group_info":"0001000400"}',
    '{"op":"add","id":"A","key_packages":["00"]}',
    '{"op":"add","id":"A","key_packages":"not a list"}',
    '{"op":"encrypt","id":"nobody","data":"00"}',
]
for line in hostile:
    must(line, False)

# Controls: the state survived every refusal.
added = must('{"op":"add","id":"A","key_packages":["' + kp + '"]}', True)
must('{"op":"join","id":"B","welcome":"' + added["welcome"] + '"}', True)
message = must('{"op":"encrypt","id":"A","data":"68656c6c6f"}', True)["data"]
got = must('{"op":"process","id":"B","message":"' + message + '"}', True)
if got.get("data") != "68656c6c6f":
    sys.exit(f"hostile: control message came back as {got}")
proc.stdin.write('{"op":"quit"}\n')
proc.stdin.flush()
code = proc.wait(timeout=60)
if code != 0:
    sys.exit(f"hostile: exit status {code} after quit")
print(f"interop hostile requests: {len(hostile)} passed, 0 failed")
