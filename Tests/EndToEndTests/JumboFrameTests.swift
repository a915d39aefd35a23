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
}
