import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel

/// A veth pair at MTU 9000, as data-centre NICs run: XDP in native mode takes only programs that
/// declare multi-buffer support (without it: ERANGE), and 8,000-byte UDP datagrams arrive as a
/// linear part and fragments. A rule on their length and a rule reading payload byte 5,000 count
/// them exactly, packets and bytes, as libpcap's first match over the frames sent.
final class JumboFrameTests: XCTestCase {
    func testNativeXDPAtMTU9000CountsEightKilobyteDatagramsExactly() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        for end in [quiet.network.a, quiet.network.b] {
            _ = try IPCommand.run(["-n", end.namespace, "link", "set", "dev", end.interfaceName, "mtu", "9000"])
        }
        func datagram(payloadByte5000 marker: UInt8, size: Int = 8000) -> [UInt8] {
            var payload = [UInt8](repeating: 0x11, count: size - 8)
            if payload.count > 5000 { payload[5000] = marker }
            return PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(protocol: 17, PacketBuilder.udp(source: 40000, destination: 9, payload)))
        }
        let rules: [(expression: String, verdict: Verdict)] = [("udp[8 + 5000] = 0xab", .pass), ("greater 8000", .pass)]
        let frames = (0..<12).map { datagram(payloadByte5000: $0 % 2 == 0 ? 0xab : 0xcd) } + (0..<4).map { _ in datagram(payloadByte5000: 0, size: 200) }
        let ruleset = try LibpcapRuleset(rules)
        let expected = ruleset.expectedCounters(frames)
        XCTAssertEqual(expected.map { $0[0] }, [4, 6, 6], "libpcap: small frames to the policy, six by byte 5,000, six by length")

        let applied = try quiet.apply(ruleset.rulesText(policy: .drop), on: .b, hook: "xdp", options: ["--mode", "native"])
        XCTAssertEqual(applied.status, 0)
        let status = try Xdpfw.run(["-n", quiet.network.b.namespace, "status"]).standardOutput
        XCTAssertTrue(status.contains("native"), "attached natively at MTU 9000: \(status)")
        XCTAssertEqual(try quiet.send(frames, from: .a), frames.count)
        let counted = try quiet.counters(on: .b, hook: "xdp", settlingAt: frames.count)
        if counted != expected { print(quiet.linkStatistics()) }
        XCTAssertEqual(counted, expected, "[packets, bytes] for the policy, rule 1 (payload byte 5,000), rule 2 (length)")
    }

    /// What `status --json` says of the XDP program on side b: "single" or "multi".
    private func buffers(_ quiet: QuietNetwork) throws -> String? {
        let status = try Xdpfw.run(["-n", quiet.network.b.namespace, "status", "--json"])
        let objects = try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [[String: Any]]
        return objects?.first { $0["hook"] as? String == "xdp" }?["xdp_buffers"] as? String
    }

    /// Whether `ip link set mtu` succeeds.
    private func setMTU(_ mtu: Int, _ end: TestNetwork.End) -> Bool {
        (try? IPCommand.run(["-n", end.namespace, "link", "set", "dev", end.interfaceName, "mtu", String(mtu)])) != nil
    }

    /// At a usual MTU, apply attaches a single-buffer program (no helper call for the length on
    /// every packet), which counts exactly; the kernel then holds the veth peer's MTU to a page,
    /// as the apply help says. `--multi-buffer` attaches the multi-buffer program at any MTU, and
    /// an MTU over a page chooses it without asking.
    func testApplyChoosesTheSingleBufferProgramAtAUsualMTU() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let (a, b) = (quiet.network.a, quiet.network.b)
        let frames = (0..<6).map { quiet.network.udpFrame(from: .a, sourcePort: 1, destinationPort: UInt16(7 + $0 % 2), payload: [UInt8](repeating: 1, count: 100 + $0)) }
        let ruleset = try LibpcapRuleset([("udp dst port 7", .drop), ("greater 140", .pass)])
        try quiet.apply(ruleset.rulesText(policy: .pass), on: .b, hook: "xdp", options: ["--mode", "native"])
        XCTAssertEqual(try buffers(quiet), "single", "MTU 1500: a single-buffer program")
        XCTAssertEqual(try quiet.send(frames, from: .a), frames.count)
        XCTAssertEqual(try quiet.counters(on: .b, hook: "xdp", settlingAt: frames.count), ruleset.expectedCounters(frames),
                       "the single-buffer program counts as libpcap's first match (packets, bytes)")
        XCTAssertFalse(setMTU(9000, a), "the kernel holds the peer's MTU to a page under a single-buffer program")

        try quiet.apply(ruleset.rulesText(policy: .pass), on: .b, hook: "xdp", options: ["--multi-buffer"])
        XCTAssertEqual(try buffers(quiet), "multi", "--multi-buffer")
        _ = try Xdpfw.run(["-n", b.namespace, "detach", b.interfaceName])

        for end in [a, b] { XCTAssertTrue(setMTU(9000, end), "no XDP program holds the MTU after detach") }
        try quiet.apply(ruleset.rulesText(policy: .pass), on: .b, hook: "xdp")
        XCTAssertEqual(try buffers(quiet), "multi", "MTU 9000: a multi-buffer program")
        let refused = try Xdpfw.run(["-n", b.namespace, "apply", "-", b.interfaceName, "--hook", "tc-ingress", "--multi-buffer"], input: "drop udp\n")
        XCTAssertEqual(refused.status, 2, "--multi-buffer is for XDP: \(refused.standardError)")
    }
}
