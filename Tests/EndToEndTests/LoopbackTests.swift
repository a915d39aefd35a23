import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel

/// `xdpfw apply rules.conf lo`, the first thing people try, on the loopback of a test namespace
/// with default options: at XDP native mode is refused and auto falls back to generic; the
/// stack's own traffic to 127.0.0.1 (ICMP echo, UDP and TCP to listeners) is counted per rule
/// exactly as libpcap's first match counts the frames lo carried; re-apply, stats, status and
/// detach work and detach leaves nothing.
final class LoopbackTests: XCTestCase {
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("icmp and host 127.0.0.1", .drop),
        ("udp dst port 9999", .drop),
        ("tcp port 8080", .pass),
        ("udp", .pass),
    ]

    func testApplyOnLoopbackAtXDPFallsBackToGenericAndCountsExactly() throws {
        try applyCountAndDetach(hook: "xdp")
    }

    func testApplyOnLoopbackAtTCIngressCountsExactly() throws {
        try applyCountAndDetach(hook: "tc-ingress")
    }

    func testApplyOnLoopbackAtTCEgressCountsExactly() throws {
        try applyCountAndDetach(hook: "tc-egress")
    }

    private func applyCountAndDetach(hook: String) throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let namespace = quiet.network.a.namespace
        let ruleset = try LibpcapRuleset(Self.rules)

        // First apply, default mode: at XDP, native is refused on lo and generic is used, saying why.
        let applied = try quiet.apply(ruleset.rulesText(policy: .pass), on: .a, hook: hook, interface: "lo")
        XCTAssertTrue(applied.standardOutput.hasPrefix("attached "), applied.standardOutput)
        if hook == "xdp" {
            XCTAssertTrue(applied.standardOutput.contains("(generic mode)"), applied.standardOutput)
            XCTAssertTrue(applied.standardError.contains("native XDP refused on lo"), applied.standardError)
        } else {
            XCTAssertEqual(applied.standardError, "")
        }
        try assertStatus(namespace, hook: hook, rules: 4)

        // Re-apply (the same rules): replaced in place, counters start again.
        let replaced = try quiet.apply(ruleset.rulesText(policy: .pass), on: .a, hook: hook, interface: "lo")
        XCTAssertTrue(replaced.standardOutput.hasPrefix("replaced "), replaced.standardOutput)
        XCTAssertEqual(replaced.standardError, "", "no note on a replace")
        try assertStatus(namespace, hook: hook, rules: 4)

        // Real traffic through lo; lo's outgoing copies are every frame it carried.
        let capture = try quiet.network.run(in: .a) { try PacketSocket(interface: try NetworkInterface(name: "lo")) }
        defer { capture.close() }
        try capture.reserve(receiveBuffer: 8 << 20)
        let (echoReplies, dropped, passed, tcpBytes) = try quiet.network.run(in: .a) {
            let droppedPort = try LoopbackTraffic.UDPListener(port: 9999), passedPort = try LoopbackTraffic.UDPListener(port: 9998)
            defer { droppedPort.close(); passedPort.close() }
            let replies = try LoopbackTraffic.ping(count: 5)
            try LoopbackTraffic.sendUDP(count: 7, size: 100, to: 9999)
            try LoopbackTraffic.sendUDP(count: 3, size: 200, to: 9998)
            let bytes = try LoopbackTraffic.sendTCP(bytes: 3_000, to: 8080)
            Thread.sleep(forTimeInterval: 0.1)
            return (replies, droppedPort.received(), passedPort.received(), bytes)
        }
        XCTAssertEqual(echoReplies, 0, "echo requests to 127.0.0.1 dropped")
        XCTAssertEqual(dropped, 0, "UDP to port 9999 dropped")
        XCTAssertEqual(passed, 3, "UDP to port 9998 passed")
        XCTAssertEqual(tcpBytes, 3_000, "TCP to port 8080 passed")

        let carried = try capture.receive(limit: 10_000, timeout: .milliseconds(300), direction: .outgoing)
        var expected = ruleset.expectedCounters(carried)
        if hook == "tc-egress" {
            // Frames dropped at egress never reach the capture: the 5 echo requests (14 + 20 + 8 +
            // 56 bytes) and the 7 datagrams to port 9999 (14 + 20 + 8 + 100).
            expected[1] = [expected[1][0] + 5, expected[1][1] + 5 * 98]
            expected[2] = [expected[2][0] + 7, expected[2][1] + 7 * 142]
        }
        XCTAssertEqual(expected[1][0], 5, "every echo request reached rule 1 (and no reply was made)")
        XCTAssertEqual(expected[2][0], 7)
        XCTAssertGreaterThanOrEqual(expected[3][0], 6, "the TCP connection's segments, both ways")
        XCTAssertEqual(expected[4][0], 3)
        let total = expected.reduce(0) { $0 + Int($1[0]) }
        let counted = try quiet.counters(on: .a, hook: hook, settlingAt: total, interface: "lo")
        XCTAssertEqual(counted, expected, "\(hook) on lo: [packets, bytes] for the policy, rule 1, 2, ...")

        // Detach leaves nothing: no program, filter, qdisc xdpfw made, or pin.
        let detached = try Xdpfw.run(["-n", namespace, "detach", "lo"])
        XCTAssertEqual(detached.status, 0, detached.standardError)
        XCTAssertEqual(detached.standardOutput, "detached lo \(hook)\n")
        XCTAssertFalse(try IPCommand.run(["-n", namespace, "link", "show", "dev", "lo"]).contains("prog/xdp"))
        let qdiscs = try IPCommand.run(["netns", "exec", namespace, "tc", "qdisc", "show", "dev", "lo"])
        XCTAssertFalse(qdiscs.contains("clsact"), qdiscs)
        XCTAssertFalse(BPFFileSystem.exists(PinDirectory.root(forNamespace: namespace) + "/lo"), "no pins for lo")
        let status = try Xdpfw.run(["-n", namespace, "status"])
        XCTAssertEqual(status.standardOutput, "no xdpfw rules attached\n")
    }

    /// A veth whose MTU is over a page takes only multi-buffer programs natively (before xdpfw's
    /// programs declared it, native was refused with ERANGE and auto fell back to generic): auto
    /// now attaches natively, says nothing on standard error, and counts the whole datagram.
    func testAutoModeAttachesNativelyWhenTheMTUIsOverAPage() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        for end in [quiet.network.a, quiet.network.b] {
            try IPCommand.run(["-n", end.namespace, "link", "set", "dev", end.interfaceName, "mtu", "9000"])
        }
        let auto = try quiet.apply("drop udp\n", on: .b, hook: "xdp")
        XCTAssertTrue(auto.standardOutput.contains("(native mode)"), auto.standardOutput)
        XCTAssertFalse(auto.standardError.contains("refused"), auto.standardError)
        try quiet.send([quiet.network.udpFrame(from: .a, sourcePort: 1, destinationPort: 2, payload: [UInt8](repeating: 7, count: 8_000))],
                       from: .a)
        let counted = try quiet.counters(on: .b, hook: "xdp", settlingAt: 1)
        XCTAssertEqual(counted, [[0, 0], [1, 14 + 20 + 8 + 8_000]], "native XDP counts the whole 8,000-byte datagram")
    }

    /// At XDP a VLAN tag the NIC moved into metadata is not seen: apply says so for rules that
    /// test VLAN tags, at XDP only.
    func testApplyNotesThatXDPDoesNotSeeStrippedVLANTags() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let rules = "pass icmp\ndrop udp and (vlan 10 or vlan 20)\n"
        let xdp = try quiet.apply(rules, on: .a, hook: "xdp", interface: "lo")
        XCTAssertTrue(xdp.standardError.contains("note: rule 2 (line 2) tests VLAN tags: at XDP a tag the NIC strips"), xdp.standardError)
        let tc = try quiet.apply(rules, on: .a, hook: "tc-ingress", interface: "lo")
        XCTAssertEqual(tc.standardError, "", "TC ingress puts a stripped tag back inline: no note")
    }

    private func assertStatus(_ namespace: String, hook: String, rules: Int) throws {
        let status = try Xdpfw.run(["-n", namespace, "status"])
        XCTAssertEqual(status.status, 0, status.standardError)
        let row = status.standardOutput.split(separator: "\n").first { $0.hasPrefix("lo ") }.map(String.init) ?? ""
        let fields = row.split(separator: " ").map(String.init)
        XCTAssertEqual(Array(fields.prefix(3)), ["lo", hook, "attached"], status.standardOutput)
        XCTAssertTrue(fields.contains(hook == "xdp" ? "generic" : "-"), status.standardOutput)
        XCTAssertTrue(fields.contains(String(rules)), status.standardOutput)
    }
}
