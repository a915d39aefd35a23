import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel

/// Real frames through a veth pair: the per-rule counters `xdpfw stats` reports at TC egress of
/// the sending end and at XDP of the receiving end equal, packet for packet and byte for byte,
/// what libpcap's first match over the same frames says.
final class LiveCounterTests: XCTestCase {
    /// Overlapping matches, both verdicts, arithmetic, VLAN and IPv6: each frame is counted once,
    /// by the first rule libpcap says matches it.
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("tcp dst port 22", .drop),
        ("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", .pass),
        ("udp and port 53", .drop),
        ("icmp or icmp6", .pass),
        ("vlan", .drop),
        ("ip6 and tcp", .drop),
        ("net 192.168.0.0/16", .pass),
        ("ip[2:2] - ((ip[0] & 0xf) << 2) > 200", .drop),
        ("len > 1000", .pass),
        ("udp", .drop),
    ]

    func testCountersAtTCEgressAndXDPEqualLibpcapsFirstMatch() throws {
        let (quiet, ruleset) = try QuietNetwork.forCorpusRules(Self.rules)
        defer { quiet.close() }
        let frames = EndToEnd.sendableFrames(limit: 1500)

        // The sender's TC egress sees every frame sent; the receiver's XDP sees those egress let
        // through. Each policy is tried at each hook.
        for (egressPolicy, ingressPolicy) in [(Verdict.pass, Verdict.drop), (.drop, .pass)] {
            // The second round replaces the first round's rules: counters start again at 0.
            try quiet.apply(ruleset.rulesText(policy: egressPolicy), on: .a, hook: "tc-egress", options: ["--reset-counters"])
            try quiet.apply(ruleset.rulesText(policy: ingressPolicy), on: .b, hook: "xdp", options: ["--reset-counters"])
            let status = try Xdpfw.run(["-n", quiet.network.b.namespace, "status"]).standardOutput
            XCTAssertTrue(status.contains("native"), "veth takes XDP in native mode: \(status)")
            let passed = frames.filter { ruleset.verdict(for: $0, policy: egressPolicy) == .pass }
            let accepted = try quiet.send(frames, from: .a)
            XCTAssertEqual(accepted, passed.count, "frames the sending socket saw leave (TC egress drops are refused)")

            let expectedEgress = ruleset.expectedCounters(frames)
            let egress = try quiet.counters(on: .a, hook: "tc-egress", settlingAt: frames.count)
            if egress != expectedEgress { print(quiet.linkStatistics()) }
            XCTAssertEqual(egress, expectedEgress, "tc-egress, policy \(egressPolicy): [packets, bytes] for the policy, rule 1, 2, ...")
            let expectedIngress = ruleset.expectedCounters(passed)
            let ingress = try quiet.counters(on: .b, hook: "xdp", settlingAt: passed.count)
            if ingress != expectedIngress { print(quiet.linkStatistics()) }
            XCTAssertEqual(ingress, expectedIngress, "xdp, policy \(ingressPolicy): [packets, bytes] for the policy, rule 1, 2, ...")

            XCTAssertGreaterThanOrEqual(expectedEgress.filter { $0[0] > 0 }.count, 9, "the frames exercise nearly every rule")
            // With egress policy drop, XDP sees only what egress pass rules let through: four of them.
            XCTAssertGreaterThanOrEqual(expectedIngress.filter { $0[0] > 0 }.count, 4, "the frames XDP sees exercise several rules")
        }
    }

    /// XDP in generic mode (in the stack, on an skb) counts the same.
    func testCountersAtGenericXDPEqualLibpcapsFirstMatch() throws {
        try countAtReceiver(hook: "xdp", options: ["--mode", "generic"], expectedMode: "generic")
    }

    /// At TC ingress the stack has already taken an outer 802.1Q/802.1ad tag out of the frame
    /// into metadata: the program puts it back inline first, so rules (and `len`, and the bytes
    /// counted) see the frame as it was sent, as libpcap does.
    func testCountersAtTCIngressEqualLibpcapsFirstMatchWithTagsInMetadata() throws {
        let frames = try countAtReceiver(hook: "tc-ingress", options: [], expectedMode: nil)
        let tagged = frames.filter { [[0x81, 0x00], [0x88, 0xa8]].contains(Array($0[12..<14])) }
        XCTAssertGreaterThan(tagged.count, 10, "tagged frames the stack moves into metadata take part")
    }

    /// Applies the rules (policy drop) at `hook` of the receiving end, sends the frames and compares
    /// the counters with libpcap's first match. Returns the frames sent.
    @discardableResult
    private func countAtReceiver(hook: String, options: [String], expectedMode: String?) throws -> [[UInt8]] {
        let (quiet, ruleset) = try QuietNetwork.forCorpusRules(Self.rules)
        defer { quiet.close() }
        let frames = EndToEnd.sendableFrames(limit: 1500)
        try quiet.apply(ruleset.rulesText(policy: .drop), on: .b, hook: hook, options: options)
        if let expectedMode {
            let status = try Xdpfw.run(["-n", quiet.network.b.namespace, "status"]).standardOutput
            XCTAssertTrue(status.contains(expectedMode), status)
        }
        try quiet.send(frames, from: .a)
        let counted = try quiet.counters(on: .b, hook: hook, settlingAt: frames.count)
        let expected = ruleset.expectedCounters(frames)
        if counted != expected { print(quiet.linkStatistics()) }
        XCTAssertEqual(counted, expected, "\(hook) \(options): [packets, bytes] for the policy, rule 1, 2, ...")
        return frames
    }
}
