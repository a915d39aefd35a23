import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel

/// A NIC with rx-vlan offload hands XDP a frame without its 802.1Q tag: the tag travels in
/// metadata. On a veth the sender's TC egress program moves the tag into the socket buffer's
/// metadata (`bpf_skb_vlan_push` on an untagged frame), and the receiver's native XDP sees the
/// frame untagged, as behind such a NIC. xdpfw's device-bound program reads the tag with
/// `bpf_xdp_metadata_rx_vlan_tag`, puts it back into the frame for the rules, and takes it out
/// again for frames that pass: VLAN rules count as libpcap counts the tagged frames (packets and
/// bytes), and the frames that pass reach the stack as they came.
final class XDPMetadataVLANTests: XCTestCase {
    /// A TC program that pushes VLAN tag `id` (802.1Q) into an untagged frame's metadata.
    private static func tagger(id: Int32) throws -> BPFProgram {
        var asm = Assembler()
        asm.move(.r2, 0x0081)            // ETH_P_8021Q, big-endian
        asm.move(.r3, id)
        asm.call(.skbVLANPush)
        asm.move(.r0, 0)                 // TC_ACT_OK
        asm.exit()
        return try BPFProgram.load(type: .tc, instructions: try asm.assemble().encoded, name: "vlan_tagger")
    }

    /// The frame as on the wire with tag `id` after the MAC addresses.
    private static func tagged(_ frame: [UInt8], id: UInt16) -> [UInt8] {
        Array(frame[0..<12]) + [0x81, 0x00, UInt8(id >> 8), UInt8(id & 0xff)] + Array(frame[12...])
    }

    func testNativeXDPCountsTagsTheNICTookIntoMetadataAsLibpcap() throws {
        try EndToEnd.requireRoot()
        guard KernelFunction.btfID(KernelFunction.xdpMetadataVLANTag) != nil else {
            throw XCTSkip("this kernel has no bpf_xdp_metadata_rx_vlan_tag (6.8+)")
        }
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let (a, b) = (quiet.network.a, quiet.network.b)
        let frames = (0..<12).map { index in
            quiet.network.udpFrame(from: .a, sourcePort: 4000, destinationPort: UInt16([7, 9, 53][index % 3]),
                                   payload: [UInt8](repeating: UInt8(index), count: 20 + index))
        }
        let wire = frames.map { Self.tagged($0, id: 10) }
        let rules: [(expression: String, verdict: Verdict)] = [
            ("vlan 20", .drop), ("vlan 10 and udp dst port 7", .drop), ("udp dst port 9", .drop), ("vlan and udp dst port 9", .drop),
        ]
        let ruleset = try LibpcapRuleset(rules)
        let expected = ruleset.expectedCounters(wire)
        XCTAssertEqual(expected.map { $0[0] }, [4, 0, 4, 0, 4], "libpcap on the tagged frames: port 7 by rule 2, port 9 by rule 4, DNS passes")

        let applied = try quiet.apply(ruleset.rulesText(policy: .pass), on: .b, hook: "xdp", options: ["--mode", "native"])
        XCTAssertFalse(applied.standardError.contains("tests VLAN tags"), "no note: the tag is read: \(applied.standardError)")
        // The sender's egress moves tag 10 into metadata.
        let tagger = try Self.tagger(id: 10)
        defer { tagger.close() }
        let egress = try quiet.network.run(in: .a) { () throws -> TCAttachment in
            let interface = try NetworkInterface(name: a.interfaceName)
            try TCAttachment.createClsact(on: interface)
            let attachment = TCAttachment(interface: interface, direction: .egress)
            try attachment.attach(tagger)
            return attachment
        }
        defer { _ = try? quiet.network.run(in: .a) { try egress.detach() } }
        let capture = try quiet.network.run(in: .b) { try PacketSocket(interface: try NetworkInterface(name: b.interfaceName)) }
        defer { capture.close() }

        XCTAssertEqual(try quiet.send(frames, from: .a), frames.count)
        let counted = try quiet.counters(on: .b, hook: "xdp", settlingAt: frames.count)
        if counted != expected { print(quiet.linkStatistics()) }
        XCTAssertEqual(counted, expected, "[packets, bytes] per slot: the tagged frames as libpcap counts them")
        // The frames that passed reach the stack as they came: untagged bytes, tag in metadata.
        let passed = try capture.receive(limit: 4, timeout: .seconds(2)) { $0.count > 42 && $0[36] == 0 && $0[37] == 53 }
        XCTAssertEqual(Set(passed), Set(frames.filter { $0[37] == 53 }), "the DNS frames arrive unchanged")
    }
}
