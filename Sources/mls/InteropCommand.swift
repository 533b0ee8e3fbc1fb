import ArgumentParser
import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `mls interop`: the JSON-lines driver of ../shared/design/interop-protocol.md, so that any
/// harness can put MLSKit clients into groups with other implementations.
struct Interop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive MLSKit clients with JSON-lines requests on standard input (see Docs/Interop.md).")

    func run() throws {
        var driver = InteropDriver()
        while let line = readLine(strippingNewline: true) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let reply = driver.handle(line) else { return }
            // Written unbuffered so a harness waiting for the reply never stalls.
            FileHandle.standardOutput.write(Data((reply + "\n").utf8))
        }
    }
}

/// A failed request: its kind and detail become `"error": "<kind>: <detail>"`.
struct InteropFailure: Error {
    let kind: String
    let detail: String
}

/// One client of the driver: an MLS client (identity, signer, suite, configuration), its
/// KeyPackages, and at most one group.
struct InteropClient {
    let client: MLSClient
    var bundles: [KeyPackageBundle] = []
    var group: MLSGroup?

    var suite: CipherSuite { client.suite }
    var configuration: GroupConfiguration { client.configuration }
    func bundle() throws -> KeyPackageBundle { try client.makeKeyPackage() }
}

/// Executes requests; every request either fully succeeds or changes nothing.
struct InteropDriver {
    var clients: [String: InteropClient] = [:]

    /// Handles one request line; `nil` means quit.
    mutating func handle(_ line: String) -> String? {
        do {
            guard let data = line.data(using: .utf8), let request = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw InteropFailure(kind: "bad_request", detail: "not a JSON object")
            }
            guard let op = request["op"] as? String else { throw InteropFailure(kind: "bad_request", detail: "missing op") }
            if op == "quit" { return nil }
            var reply = try perform(op, request)
            reply["ok"] = true
            return Self.json(reply)
        } catch let f as InteropFailure {
            return Self.json(["ok": false, "error": "\(f.kind): \(f.detail)"])
        } catch let e as GroupError {
            return Self.json(["ok": false, "error": "mls: \(e)"])
        } catch {
            return Self.json(["ok": false, "error": "error: \(error)"])
        }
    }

    static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return #"{"ok":false,"error":"internal: reply encoding"}"# }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Field access

    static func string(_ r: [String: Any], _ key: String) throws -> String {
        guard let v = r[key] as? String else { throw InteropFailure(kind: "bad_request", detail: "missing \(key)") }
        return v
    }

    static func bytes(_ r: [String: Any], _ key: String) throws -> [UInt8] {
        guard let v = Hex.decode(try string(r, key)) else { throw InteropFailure(kind: "bad_request", detail: "\(key) is not hex") }
        return v
    }

    static func optionalBytes(_ r: [String: Any], _ key: String) throws -> [UInt8]? {
        guard r[key] != nil, !(r[key] is NSNull) else { return nil }
        return try bytes(r, key)
    }

    static func int(_ r: [String: Any], _ key: String) throws -> Int {
        guard let v = r[key] as? Int else { throw InteropFailure(kind: "bad_request", detail: "missing \(key)") }
        return v
    }

    static func message(_ bytes: [UInt8]) throws -> MLSMessage {
        do { return try MLSMessage(serialized: bytes, limits: MLSLimits()) } catch { throw InteropFailure(kind: "decode", detail: "\(error)") }
    }

    static func tree(_ bytes: [UInt8]?) throws -> RatchetTreeNodes? {
        guard let bytes else { return nil }
        do { return try RatchetTreeNodes(tlsSerialized: bytes) } catch { throw InteropFailure(kind: "decode", detail: "ratchet_tree: \(error)") }
    }

    func client(_ r: [String: Any]) throws -> (String, InteropClient) {
        let id = try Self.string(r, "id")
        guard let c = clients[id] else { throw InteropFailure(kind: "unknown_client", detail: id) }
        return (id, c)
    }

    func group(_ c: InteropClient) throws -> MLSGroup {
        guard let g = c.group else { throw InteropFailure(kind: "no_group", detail: "client has no group") }
        return g
    }

    /// Commits for the request's client and merges at once, as the protocol's add, self_update
    /// and remove require; the client is changed only if both succeed.
    mutating func commitAndMerge(_ r: [String: Any], _ options: CommitOptions) throws -> CommitOutput {
        var (id, c) = try client(r)
        var g = try group(c)
        let out = try g.commit(options)
        try g.merge(out.pending)
        c.group = g
        clients[id] = c
        return out
    }

    // MARK: Operations

    mutating func perform(_ op: String, _ r: [String: Any]) throws -> [String: Any] {
        switch op {
        case "new":
            let id = try Self.string(r, "id")
            let suiteID = try Self.int(r, "suite")
            guard let code = UInt16(exactly: suiteID), let suite = CipherSuite(id: code) else { throw InteropFailure(kind: "unsupported", detail: "suite \(suiteID)") }
            var config = GroupConfiguration()
            if r["encrypt_handshake"] as? Bool == true { config.encryptsHandshakes = true }
            let identity = try Self.optionalBytes(r, "identity") ?? Array(id.utf8)
            clients[id] = InteropClient(client: MLSClient.basic(identity: identity, suite: suite, configuration: config))
            return [:]

        case "key_package":
            var (id, c) = try client(r)
            let bundle = try c.bundle()
            c.bundles.append(bundle)
            clients[id] = c
            return ["data": MLSMessage(body: .keyPackage(bundle.keyPackage)).tlsSerialized.hex]

        case "create":
            var (id, c) = try client(r)
            c.group = try c.client.createGroup(groupID: try Self.bytes(r, "group_id"))
            clients[id] = c
            return [:]

        case "add":
            guard let list = r["key_packages"] as? [String] else { throw InteropFailure(kind: "bad_request", detail: "missing key_packages") }
            let proposals = try list.map { hex -> Proposal in
                guard let b = Hex.decode(hex), case let .keyPackage(kp) = try Self.message(b).body else {
                    throw InteropFailure(kind: "decode", detail: "not an MLSMessage(KeyPackage)")
                }
                return .add(kp)
            }
            let out = try commitAndMerge(r, CommitOptions(proposals: proposals, includeGroupInfo: true))
            let g = try group(try client(r).1)
            return ["commit": out.commit.tlsSerialized.hex, "welcome": out.welcome?.tlsSerialized.hex ?? NSNull(),
                    "group_info": out.groupInfo.map { $0.tlsSerialized.hex } ?? NSNull(), "ratchet_tree": g.tree.exported.tlsSerialized.hex]

        case "join":
            var (id, c) = try client(r)
            let welcome = try Self.message(try Self.bytes(r, "welcome"))
            let tree = try Self.tree(try Self.optionalBytes(r, "ratchet_tree"))
            var lastError: (any Error)?
            for (i, bundle) in c.bundles.enumerated() {
                do {
                    let g = try c.client.join(welcome: welcome, keyPackage: bundle, ratchetTree: tree)
                    c.group = g
                    c.bundles.remove(at: i)  // a KeyPackage is used once (§10)
                    clients[id] = c
                    return ["epoch": g.epoch]
                } catch GroupError.welcomeNotForKeyPackage {
                    continue
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? InteropFailure(kind: "no_key_package", detail: "the Welcome is for none of this client's KeyPackages")

        case "encrypt":
            var (id, c) = try client(r)
            var g = try group(c)
            let m = try g.encrypt(try Self.bytes(r, "data"))
            c.group = g
            clients[id] = c
            return ["data": m.tlsSerialized.hex]

        case "process":
            var (id, c) = try client(r)
            var g = try group(c)
            let result = try g.process(try Self.message(try Self.bytes(r, "message")))
            c.group = g
            clients[id] = c
            let sender: Any
            if case let .member(leaf) = result.sender { sender = Int(leaf.rawValue) } else { sender = NSNull() }
            switch result.content {
            case let .application(data): return ["kind": "application", "data": data.hex, "epoch": g.epoch, "removed": false, "sender": sender]
            case .proposal: return ["kind": "proposal", "data": NSNull(), "epoch": g.epoch, "removed": false, "sender": sender]
            case let .commit(d):
                // The commit's description as leaf indices (interop-protocol.md): the committer
                // is null for an external commit.
                return ["kind": "commit", "data": NSNull(), "epoch": d.epoch, "removed": d.removedSelf, "sender": sender,
                        "committer": d.isExternal ? NSNull() : Int(d.committer.leaf.rawValue) as Any,
                        "added": d.added.map { Int($0.leaf.rawValue) }, "removed_leaves": d.removed.map { Int($0.leaf.rawValue) },
                        "updated": d.updated.map { Int($0.after.leaf.rawValue) }]
            }

        case "self_update":
            let out = try commitAndMerge(r, CommitOptions(includePendingProposals: false))
            return ["commit": out.commit.tlsSerialized.hex]

        case "remove":
            // Exactly representable or refused: clamping would turn -1 into leaf 0.
            guard let leaf = UInt32(exactly: try Self.int(r, "leaf_index")) else {
                throw InteropFailure(kind: "bad_request", detail: "leaf_index out of range")
            }
            let out = try commitAndMerge(r, CommitOptions(proposals: [.remove(LeafIndex(leaf))], includePendingProposals: false))
            return ["commit": out.commit.tlsSerialized.hex]

        case "export_secret":
            let (_, c) = try client(r)
            let g = try group(c)
            let secret = try g.exportSecret(label: try Self.string(r, "label"), context: try Self.bytes(r, "context"), length: try Self.int(r, "length"))
            return ["data": secret.unsafeCopiedBytes().hex]

        case "epoch_authenticator":
            let (_, c) = try client(r)
            return ["data": try group(c).epochAuthenticator.hex]

        case "group_info":
            let (_, c) = try client(r)
            let g = try group(c)
            return ["data": try g.groupInfo(withTree: true).tlsSerialized.hex, "ratchet_tree": g.tree.exported.tlsSerialized.hex]

        case "external_join":
            var (id, c) = try client(r)
            let info = try Self.message(try Self.bytes(r, "group_info"))
            let tree = try Self.tree(try Self.optionalBytes(r, "ratchet_tree"))
            let (g, commit) = try c.client.joinExternally(groupInfo: info, ratchetTree: tree)
            c.group = g
            clients[id] = c
            return ["commit": commit.tlsSerialized.hex, "epoch": g.epoch]

        case "ratchet_tree":
            let (_, c) = try client(r)
            return ["data": try group(c).tree.exported.tlsSerialized.hex]

        case "state":
            let (_, c) = try client(r)
            let g = try group(c)
            return ["epoch": g.epoch, "leaf_index": g.myLeaf.rawValue, "members": g.members.map(\.rawValue)]

        default:
            throw InteropFailure(kind: "unknown_op", detail: op)
        }
    }
}
