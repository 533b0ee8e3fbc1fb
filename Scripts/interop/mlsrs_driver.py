#!/usr/bin/env python3
"""`mls interop`-compatible JSON-lines driver backed by AWS mls-rs.

Speaks the protocol of /work/shared/design/interop-protocol.md (one JSON
request per line on stdin, one JSON reply per line on stdout) through the
PyPI package `agentvault-mls-rs-uniffi` 0.1.1 (mls-rs 0.55 UniFFI bindings).
Run Scripts/interop/setup.sh first; when started with an interpreter that
lacks the binding, the driver re-executes itself with Scripts/interop/.venv.

The binding is thin, so a few values are obtained indirectly:

* members / leaf_index: parsed from `Group.export_tree()` (the RFC 9420
  ratchet tree encoding); our own leaf is the one carrying our signature key.
* epoch: read from the GroupContext at the start of the state snapshot that
  mls-rs hands to our GroupStateStorage on `write_to_storage()`.
* epoch_authenticator: the key schedule in that snapshot is located by
  finding the exporter secret (checked against `Group.export_secret`), and the
  authentication secret stored right after it is returned. If the check
  fails the op answers `unsupported`.
* remove: the binding removes by SigningIdentity, which it matches by basic
  credential identity only, so a throwaway client with the target leaf's
  identity supplies the SigningIdentity object.

Not available through the binding: encrypt_handshake (mls-rs always sends
commits and proposals as PublicMessage here), group_info, external_join, and
suites other than 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import mls_rs_uniffi as mls
except ImportError:  # pragma: no cover - re-exec under the project venv
    venv_python = os.path.join(HERE, ".venv", "bin", "python")
    # (Compare prefixes, not executables: a venv's python is a symlink.)
    if os.path.exists(venv_python) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(HERE, ".venv")) \
            and not os.environ.get("MLSRS_DRIVER_REEXEC"):
        os.environ["MLSRS_DRIVER_REEXEC"] = "1"
        os.execv(venv_python, [venv_python, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("mlsrs_driver: cannot import mls_rs_uniffi; run Scripts/interop/setup.sh\n")
    sys.exit(2)

SUITE = 1  # MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
HASH_LEN = 32


class DriverError(Exception):
    """A failure reported to the harness as `{"ok": false, "error": "kind: detail"}`."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# --------------------------------------------------------------------------
# TLS presentation language reader (RFC 9420 §2.1.2 variable-size lengths)
# --------------------------------------------------------------------------

class Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DriverError("decode", "truncated input")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def varint(self) -> int:
        first = self.uint(1)
        prefix = first >> 6
        if prefix == 3:
            raise DriverError("decode", "invalid variable-length integer")
        size = 1 << prefix
        value = first & 0x3F
        for _ in range(size - 1):
            value = (value << 8) | self.uint(1)
        return value

    def opaque(self) -> bytes:
        return self.take(self.varint())

    def vector(self) -> "Reader":
        return Reader(self.opaque())

    def done(self) -> bool:
        return self.pos == len(self.data)


def encode_varint(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return (0x4000 | n).to_bytes(2, "big")
    if n < 1 << 30:
        return (0x80000000 | n).to_bytes(4, "big")
    raise ValueError("length too large")


def encode_opaque(b: bytes) -> bytes:
    return encode_varint(len(b)) + b


def parse_ratchet_tree(data: bytes) -> dict:
    """Returns {leaf_index: {"signature_key": bytes, "credential_type": int,
    "identity": bytes or None}} for every non-blank leaf of an RFC 9420
    ratchet tree (`optional<Node> ratchet_tree<V>`)."""
    nodes = Reader(data).vector()
    leaves = {}
    index = 0
    while not nodes.done():
        present = nodes.uint(1)
        if present == 1:
            node_type = nodes.uint(1)
            if node_type == 1:
                if index % 2 != 0:
                    raise DriverError("decode", f"leaf node at odd node index {index}")
                leaves[index // 2] = parse_leaf_node(nodes)
            elif node_type == 2:
                nodes.opaque()  # encryption_key
                nodes.opaque()  # parent_hash
                nodes.opaque()  # unmerged_leaves
            else:
                raise DriverError("decode", f"unknown node type {node_type}")
        elif present != 0:
            raise DriverError("decode", "bad optional flag in ratchet tree")
        index += 1
    return leaves


def parse_leaf_node(r: Reader) -> dict:
    r.opaque()  # encryption_key
    signature_key = r.opaque()
    credential_type = r.uint(2)
    identity = None
    if credential_type == 1:  # basic
        identity = r.opaque()
    elif credential_type == 2:  # x509: certificates<V>
        r.opaque()
    else:
        raise DriverError("decode", f"unknown credential type {credential_type}")
    for _ in range(5):  # capabilities: versions, cipher_suites, extensions, proposals, credentials
        r.opaque()
    source = r.uint(1)
    if source == 1:
        r.take(16)  # lifetime
    elif source == 3:
        r.opaque()  # parent_hash
    elif source != 2:
        raise DriverError("decode", f"unknown leaf node source {source}")
    r.opaque()  # extensions
    r.opaque()  # signature
    return {"signature_key": signature_key, "credential_type": credential_type, "identity": identity}


# --------------------------------------------------------------------------
# Key schedule helpers (SHA-256, for suite 1)
# --------------------------------------------------------------------------

def expand_with_label(secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    info = length.to_bytes(2, "big") + encode_opaque(b"MLS 1.0 " + label) + encode_opaque(context)
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def mls_exporter(exporter_secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    derived = expand_with_label(exporter_secret, label, b"", HASH_LEN)
    return expand_with_label(derived, b"exported", hashlib.sha256(context).digest(), length)


# --------------------------------------------------------------------------
# Group state storage that keeps the latest mls-rs snapshot in memory
# --------------------------------------------------------------------------

class MemoryStorage(mls.GroupStateStorage):
    def __init__(self):
        self.states = {}  # group_id -> snapshot bytes
        self.epochs = {}  # group_id -> {epoch_id: bytes}

    def state(self, group_id):
        return self.states.get(bytes(group_id))

    def epoch(self, group_id, epoch_id):
        return self.epochs.get(bytes(group_id), {}).get(epoch_id)

    def write(self, group_id, group_state, epoch_inserts, epoch_updates):
        gid = bytes(group_id)
        self.states[gid] = bytes(group_state)
        records = self.epochs.setdefault(gid, {})
        for record in list(epoch_inserts) + list(epoch_updates):
            records[record.id] = bytes(record.data)

    def max_epoch_id(self, group_id):
        records = self.epochs.get(bytes(group_id))
        return max(records) if records else None


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------

class ClientState:
    def __init__(self, cid: str, identity: bytes):
        self.id = cid
        self.identity = identity
        self.keypair = mls.generate_signature_keypair(mls.CipherSuite.CURVE25519_AES128)
        self.storage = MemoryStorage()
        config = mls.ClientConfig(group_state_storage=self.storage, use_ratchet_tree_extension=True)
        self.client = mls.Client(identity, self.keypair, config)
        self.group = None
        self.group_id = None
        self.removed = False

    # -- derived state ------------------------------------------------------

    def require_group(self):
        if self.group is None:
            raise DriverError("state", f"client {self.id} is not in a group")
        return self.group

    def require_active(self):
        group = self.require_group()
        if self.removed:
            raise DriverError("state", f"client {self.id} was removed from the group")
        return group

    def snapshot(self) -> bytes:
        group = self.require_group()
        group.write_to_storage()
        snap = self.storage.states.get(self.group_id)
        if snap is None:
            raise DriverError("internal", "mls-rs wrote no group state")
        return snap

    def epoch(self) -> int:
        # Snapshot := version u16, GroupContext {version u16, cipher_suite u16,
        # group_id<V>, epoch u64, ...}, ...
        r = Reader(self.snapshot())
        r.uint(2)
        version = r.uint(2)
        suite = r.uint(2)
        gid = r.opaque()
        epoch = r.uint(8)
        if version != 1 or suite != SUITE or gid != self.group_id:
            raise DriverError("internal", "unrecognised mls-rs snapshot layout")
        return epoch

    def tree(self) -> bytes:
        return bytes(self.require_group().export_tree().bytes)

    def leaves(self) -> dict:
        return parse_ratchet_tree(self.tree())

    def own_leaf(self, leaves: dict) -> int:
        mine = bytes(self.keypair.public_key.bytes)
        for index, leaf in leaves.items():
            if leaf["signature_key"] == mine:
                return index
        raise DriverError("state", f"client {self.id} is not in the ratchet tree")

    def epoch_authenticator(self) -> bytes:
        group = self.require_group()
        snap = self.snapshot()
        probe_label, probe_context = b"mlsrs-driver probe", b"\x01\x02"
        expected = bytes(group.export_secret(probe_label, probe_context, HASH_LEN))
        # KeySchedule := exporter_secret<V>, authentication_secret<V>,
        # external_secret<V>, membership_key<V>, init_secret<V>
        step = 1 + HASH_LEN
        found = []
        for start in range(0, len(snap) - 5 * step + 1):
            if all(snap[start + k * step] == HASH_LEN for k in range(5)):
                candidate = snap[start + 1:start + step]
                if mls_exporter(candidate, probe_label, probe_context, HASH_LEN) == expected:
                    found.append(snap[start + step + 1:start + 2 * step])
        if len(found) != 1:
            raise DriverError("unsupported", "epoch_authenticator is not exposed by the mls-rs binding "
                                             "and could not be located in its state")
        return found[0]


def to_hex(b) -> str:
    return bytes(b).hex()


def from_hex(value, field: str) -> bytes:
    if not isinstance(value, str):
        raise DriverError("request", f"field {field!r} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DriverError("request", f"field {field!r} is not valid hex") from None


def message_from_hex(value, field: str):
    data = from_hex(value, field)
    try:
        return mls.Message.from_bytes(data)
    except Exception as e:  # noqa: BLE001 - binding errors carry the detail
        raise DriverError("decode", f"{field}: {e}") from None


class Driver:
    def __init__(self):
        self.clients = {}

    def client(self, req) -> ClientState:
        cid = req.get("id")
        if not isinstance(cid, str):
            raise DriverError("request", "missing string field 'id'")
        c = self.clients.get(cid)
        if c is None:
            raise DriverError("state", f"unknown client {cid!r}")
        return c

    # -- ops ------------------------------------------------------------------

    def op_new(self, req):
        cid = req.get("id")
        if not isinstance(cid, str):
            raise DriverError("request", "missing string field 'id'")
        if cid in self.clients:
            raise DriverError("state", f"client {cid!r} already exists")
        suite = req.get("suite", SUITE)
        if suite != SUITE:
            raise DriverError("unsupported", f"suite {suite}: the mls-rs binding only offers suite 1")
        if req.get("encrypt_handshake"):
            raise DriverError("unsupported", "encrypt_handshake: the mls-rs binding always sends "
                                             "commits and proposals as PublicMessage")
        identity = from_hex(req["identity"], "identity") if "identity" in req else cid.encode("utf-8")
        self.clients[cid] = ClientState(cid, identity)
        return {}

    def op_key_package(self, req):
        c = self.client(req)
        return {"data": to_hex(c.client.generate_key_package_message().to_bytes())}

    def op_create(self, req):
        c = self.client(req)
        if c.group is not None:
            raise DriverError("state", f"client {c.id} is already in a group")
        gid = from_hex(req.get("group_id"), "group_id")
        c.group = c.client.create_group(gid)
        c.group_id = gid
        return {}

    def _merge_own(self, c: ClientState, output):
        # mls-rs keeps a created commit pending; processing it merges it.
        c.group.process_incoming_message(output.commit_message)

    def op_add(self, req):
        c = self.client(req)
        group = c.require_active()
        kps = req.get("key_packages")
        if not isinstance(kps, list) or not kps:
            raise DriverError("request", "'key_packages' must be a non-empty list")
        messages = [message_from_hex(kp, f"key_packages[{i}]") for i, kp in enumerate(kps)]
        output = group.add_members(messages)
        self._merge_own(c, output)
        return {
            "commit": to_hex(output.commit_message.to_bytes()),
            "welcome": to_hex(output.welcome_message.to_bytes()) if output.welcome_message else None,
            "group_info": to_hex(output.group_info.to_bytes()) if output.group_info else None,
            "ratchet_tree": to_hex(c.tree()),
        }

    def op_join(self, req):
        c = self.client(req)
        if c.group is not None:
            raise DriverError("state", f"client {c.id} is already in a group")
        welcome = message_from_hex(req.get("welcome"), "welcome")
        tree = None
        if req.get("ratchet_tree") is not None:
            tree = mls.RatchetTree(bytes=from_hex(req["ratchet_tree"], "ratchet_tree"))
        info = c.client.join_group(tree, welcome)
        group = info.group
        # Learn the group id from the snapshot: Snapshot := version u16,
        # GroupContext {version u16, cipher_suite u16, group_id<V>, ...}.
        group.write_to_storage()
        if len(c.storage.states) != 1:
            raise DriverError("internal", "cannot tell which group was joined")
        c.group_id = next(iter(c.storage.states))
        c.group = group
        c.removed = False
        return {"epoch": c.epoch()}

    def op_encrypt(self, req):
        c = self.client(req)
        group = c.require_active()
        data = from_hex(req.get("data"), "data")
        return {"data": to_hex(group.encrypt_application_message(data).to_bytes())}

    def op_process(self, req):
        c = self.client(req)
        group = c.require_active()
        message = message_from_hex(req.get("message"), "message")
        epoch_before = c.epoch()
        received = group.process_incoming_message(message)
        removed = False
        data = None
        if received.is_application_message():
            kind = "application"
            data = to_hex(received.data)
        elif received.is_commit():
            kind = "commit"
            if received.effect.is_removed():
                removed = True
                c.removed = True
        elif received.is_received_proposal():
            kind = "proposal"
        else:
            raise DriverError("unsupported", f"message processed as {type(received).__name__}")
        epoch = epoch_before + 1 if removed else c.epoch()
        return {"kind": kind, "data": data, "epoch": epoch, "removed": removed}

    def op_self_update(self, req):
        c = self.client(req)
        group = c.require_active()
        # An empty commit must carry an UpdatePath (RFC 9420 §12.4), which
        # refreshes this member's leaf.
        output = group.commit()
        self._merge_own(c, output)
        return {"commit": to_hex(output.commit_message.to_bytes())}

    def op_remove(self, req):
        c = self.client(req)
        group = c.require_active()
        index = req.get("leaf_index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise DriverError("request", "'leaf_index' must be an integer")
        leaves = c.leaves()
        if index not in leaves:
            raise DriverError("state", f"no member at leaf {index}")
        if index == c.own_leaf(leaves):
            raise DriverError("unsupported", "a member cannot remove itself with the mls-rs binding")
        target = leaves[index]
        if target["credential_type"] != 1:
            raise DriverError("unsupported", "the mls-rs binding removes by basic credential identity only")
        same = [i for i, leaf in leaves.items() if leaf["identity"] == target["identity"]]
        if len(same) != 1:
            raise DriverError("unsupported", f"leaves {same} share one identity; the mls-rs binding "
                                             "cannot tell them apart")
        # remove_members matches members by basic credential identity, so any
        # SigningIdentity with that identity selects the target leaf.
        stand_in = mls.Client(target["identity"],
                              mls.generate_signature_keypair(mls.CipherSuite.CURVE25519_AES128),
                              mls.client_config_default())
        output = group.remove_members([stand_in.signing_identity()])
        self._merge_own(c, output)
        return {"commit": to_hex(output.commit_message.to_bytes())}

    def op_export_secret(self, req):
        c = self.client(req)
        group = c.require_group()
        label = req.get("label")
        if not isinstance(label, str):
            raise DriverError("request", "'label' must be a string")
        context = from_hex(req.get("context", ""), "context")
        length = req.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= 65535:
            raise DriverError("request", "'length' must be an integer in 0...65535")
        return {"data": to_hex(group.export_secret(label.encode("utf-8"), context, length))}

    def op_epoch_authenticator(self, req):
        c = self.client(req)
        return {"data": to_hex(c.epoch_authenticator())}

    def op_ratchet_tree(self, req):
        c = self.client(req)
        return {"data": to_hex(c.tree())}

    def op_state(self, req):
        c = self.client(req)
        c.require_group()
        leaves = c.leaves()
        return {"epoch": c.epoch(), "leaf_index": c.own_leaf(leaves), "members": sorted(leaves)}

    def op_group_info(self, req):
        raise DriverError("unsupported", "group_info: the mls-rs binding cannot export a GroupInfo")

    def op_external_join(self, req):
        raise DriverError("unsupported", "external_join: the mls-rs binding has no external commit")

    # -- dispatch ---------------------------------------------------------------

    def handle(self, line: str):
        try:
            req = json.loads(line)
        except json.JSONDecodeError as e:
            return {"ok": False, "error": f"request: invalid JSON: {e}"}
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            return {"ok": False, "error": "request: expected an object with a string 'op'"}
        handler = getattr(self, "op_" + req["op"], None)
        if handler is None:
            return {"ok": False, "error": f"unsupported: unknown op {req['op']!r}"}
        try:
            reply = handler(req)
        except DriverError as e:
            return {"ok": False, "error": str(e)}
        except mls.Error as e:
            return {"ok": False, "error": f"mls: {type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 - includes binding panics (InternalError)
            return {"ok": False, "error": f"internal: {type(e).__name__}: {e}"}
        out = {"ok": True}
        out.update(reply)
        return out


def main() -> int:
    driver = Driver()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            if json.loads(line).get("op") == "quit":
                return 0
        except (json.JSONDecodeError, AttributeError):
            pass
        sys.stdout.write(json.dumps(driver.handle(line)) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
