import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Firewall

/// A `TestNetwork` whose namespaces send nothing by themselves: no addresses and IPv6 off, so no
/// neighbour discovery, MLD or ARP. Every frame a hook counts is one the test sent, and counters
/// can be compared exactly. Runs the built `xdpfw` inside either namespace.
final class QuietNetwork {
    let network: TestNetwork

    init() throws {
        network = try TestNetwork()
        do {
            try network.silence()
        } catch {
            network.close()
            throw error
        }
    }

    /// The start of the tests that send the corpus's frames through a quiet network and compare
    /// the counters with libpcap's first match of `rules`: they need root and the corpus (they
    /// skip without), the network (the caller closes it) and the oracle.
    static func forCorpusRules(_ rules: [(expression: String, verdict: Verdict)]) throws -> (QuietNetwork, LibpcapRuleset) {
        try EndToEnd.requireRoot()
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let ruleset = try LibpcapRuleset(rules)
        return (try QuietNetwork(), ruleset)
    }

    /// Detaches whatever xdpfw put on either end, removes the pins and the namespaces.
    func close() {
        for end in [network.a, network.b] {
            _ = try? Xdpfw.run(["-n", end.namespace, "detach", end.interfaceName])
            try? FileManager.default.removeItem(atPath: PinDirectory.root(forNamespace: end.namespace))
        }
        AttachedRuleset.removeEmptyPinRoot(PinDirectory.root(forNamespace: network.a.namespace))
        network.close()
    }

    /// `xdpfw -n NAMESPACE apply - IFACE --hook HOOK` with `rules` on standard input; throws when
    /// it does not succeed.
    /// `interface` is the side's veth unless given (e.g. `lo`). Returns what `apply` printed.
    @discardableResult
    func apply(_ rules: String, on side: TestNetwork.Side, hook: String, options: [String] = [],
               interface: String? = nil) throws -> ProcessRun {
        let end = network.end(side)
        let result = try Xdpfw.run(["-n", end.namespace, "apply", "-", interface ?? end.interfaceName, "--hook", hook] + options,
                                   input: rules)
        guard result.status == 0 else { throw Xdpfw.Failure(description: "apply at \(hook): \(result.standardError)") }
        return result
    }

    /// The counters `xdpfw stats --json` reports at one hook, in counter-slot order: the policy,
    /// then rule 1, 2, ... each as [packets, bytes].
    func counters(on side: TestNetwork.Side, hook: String, interface: String? = nil) throws -> [[UInt64]] {
        let end = network.end(side)
        let result = try Xdpfw.run(["-n", end.namespace, "stats", interface ?? end.interfaceName, "--hook", hook, "--json"])
        guard result.status == 0,
              let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
              let policy = object["policy"] as? [String: Any], let rules = object["rules"] as? [[String: Any]] else {
            throw Xdpfw.Failure(description: "stats at \(hook): \(result.standardError)\(result.standardOutput)")
        }
        func pair(_ entry: [String: Any]) -> [UInt64] {
            [UInt64(entry["packets"] as? Int ?? -1), UInt64(entry["bytes"] as? Int ?? -1)]
        }
        return [pair(policy)] + rules.map(pair)
    }

    /// Polls the counters until they add up to `total` packets (frames may still be on their way
    /// through the veth) or 3 seconds passed, and returns the last reading.
    func counters(on side: TestNetwork.Side, hook: String, settlingAt total: Int,
                  interface: String? = nil) throws -> [[UInt64]] {
        let deadline = Date().addingTimeInterval(3)
        var reading = try counters(on: side, hook: hook, interface: interface)
        while reading.reduce(0, { $0 + $1[0] }) < UInt64(total) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            reading = try counters(on: side, hook: hook, interface: interface)
        }
        return reading
    }

    /// Sends `frames` out of `side`'s veth in small paced batches, so the peer's receive ring never
    /// overflows. Returns how many the kernel accepted (TC egress drops are not accepted).
    @discardableResult
    func send(_ frames: [[UInt8]], from side: TestNetwork.Side) throws -> Int {
        var accepted = 0
        for start in stride(from: 0, to: frames.count, by: 32) {
            accepted += try network.send(Array(frames[start..<min(start + 32, frames.count)]), from: side)
            usleep(2_000)
        }
        return accepted
    }

    /// Sends `frames` from side a and compares the counters at `hook` of `side` with libpcap's
    /// first match over them: the slots that differ, as "slot: counted vs libpcap's expected"
    /// (at most five; empty when all agree). Prints the links' statistics when some differ.
    func countingDifferences(_ frames: [[UInt8]], _ ruleset: LibpcapRuleset, on side: TestNetwork.Side, hook: String) throws -> [String] {
        try send(frames, from: .a)
        let counted = try counters(on: side, hook: hook, settlingAt: frames.count)
        let expected = ruleset.expectedCounters(frames)
        if counted != expected { print(linkStatistics()) }
        return counted.indices.filter { counted[$0] != expected[$0] }.prefix(5).map { "\($0): \(counted[$0]) vs libpcap's \(expected[$0])" }
    }

    /// Both veths' packet and drop counts (`ip -s link`), to tell a lost frame from a miscount.
    func linkStatistics() -> String {
        [network.a, network.b].map { end in
            (try? IPCommand.run(["-n", end.namespace, "-s", "link", "show", "dev", end.interfaceName])) ?? "?"
        }.joined()
    }

    /// The program id the kernel runs at `hook` of `side`'s veth, from xdpfw's pins.
    func attachedProgramID(on side: TestNetwork.Side, hook: Hook) throws -> UInt32? {
        let end = network.end(side)
        return try network.run(in: side) {
            HookInstallation.find(interface: end.interfaceName, hook: hook, root: PinDirectory.root(forNamespace: end.namespace))?
                .attachedProgramID
        }
    }
}

extension LibpcapRuleset {
    /// The ruleset as a rules.conf text xdpfw reads (libpcap's multi-line expressions on one line).
    func rulesText(policy: Verdict) -> String {
        "policy \(policy.rawValue)\n"
            + rules.map { "\($0.verdict.rawValue) \($0.expression.replacingOccurrences(of: "\n", with: " "))\n" }.joined()
    }
}

/// Runs the `xdpfw` built beside the test bundle, as a script would.
enum Xdpfw {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 120) throws -> ProcessRun {
        guard let result = try ProcessRun.run(ProcessRun.builtXdpfw, arguments, input: input, timeout: timeout) else {
            throw Failure(description: "xdpfw \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        return result
    }
}

enum EndToEnd {
    static func requireRoot() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "needs root: creates network namespaces, loads and attaches BPF programs")
    }

    /// Distinct frames from the packet catalog and the corpus captures that a veth carries whole
    /// (an Ethernet header up to a 1500-byte MTU), as many as `limit`.
    static func sendableFrames(limit: Int) -> [[UInt8]] {
        var seen = Set<[UInt8]>()
        let all = PacketCatalog.frames.map(\.bytes) + Corpus.captures.packets.map(\.packet.bytes)
        return Array(all.filter { $0.count >= 14 && $0.count <= 1514 && seen.insert($0).inserted }.prefix(limit))
    }
}
