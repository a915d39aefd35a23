import XCTest
import ClassicBPF
import DifferentialTesting
import FilterCompiler
import Kernel
@testable import EBPF

/// At TC ingress on a veth the stack has taken the 802.1Q tag out of the frame before the
/// program runs (BPF_PROG_TEST_RUN never does this, so this needs real traffic). The ruleset
/// must decide as libpcap does on the frame as it was sent, tag inline, and hand the frame back
/// to the stack with its tag in metadata again.
final class MetadataVLANTests: XCTestCase {
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("vlan 100 and udp dst port 7001", .drop), ("vlan 200", .pass), ("udp dst port 7002", .drop),
    ]

    func testTCIngressDecidesOnTheTagAsIfItStoodInline() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "needs root: network namespaces, veth pairs, TC attach")
        let network = try TestNetwork()   // as root this must work: a failure here is a failure
        defer { network.close() }
        // Nothing but the frames sent below may reach the counters (IPv6 neighbour discovery
        // and MLD would otherwise land in the policy slot now and then).
        try network.silence()
        // A VLAN device on B receives VLAN 200 frames only if their tag is in metadata after TC.
        // (This kernel may lack 8021q; then only the counters are checked.)
        let vlanDevice = "xfw-b.200"
        let haveVLANDevice = (try? IPCommand.run(["-n", network.b.namespace, "link", "add", "link", network.b.interfaceName,
                                                  "name", vlanDevice, "type", "vlan", "id", "200"])) != nil
        if haveVLANDevice { _ = try IPCommand.run(["-n", network.b.namespace, "link", "set", vlanDevice, "up"]) }

        let ruleset = try LibpcapRuleset(Self.rules)
        let (program, counters) = try ruleset.load(policy: .pass, hook: .tc, type: .tc)
        defer { program.close(); counters.close() }
        let interface = try network.interface(.b)
        try network.run(in: .b) {
            try TCAttachment.createClsact(on: interface)
            try TCAttachment(interface: interface, direction: .ingress).attach(program)
        }
        let vlanCapture = haveVLANDevice
            ? try network.run(in: .b) { try PacketSocket(interface: try NetworkInterface(name: vlanDevice)) } : nil
        defer { vlanCapture?.close() }

        func tagged(_ tci: UInt16, _ frame: [UInt8]) -> [UInt8] {
            Array(frame[0..<12]) + [0x81, 0x00, UInt8(tci >> 8), UInt8(tci & 0xff)] + Array(frame[12...])
        }
        let port7001 = network.udpFrame(from: .a, sourcePort: 1, destinationPort: 7001)
        let port7002 = network.udpFrame(from: .a, sourcePort: 1, destinationPort: 7002)
        let sent = [[UInt8]](repeating: tagged(100, port7001), count: 3) + [[UInt8]](repeating: tagged(200, port7001), count: 2)
            + [[UInt8]](repeating: port7002, count: 4) + [tagged(100, port7002)]
        let expected = ruleset.expectedCounters(sent)
        XCTAssertEqual(expected.map { $0[0] }, [1, 3, 2, 4], "libpcap's own split of the frames over the rules")
        try network.send(sent, from: .a)

        func counted() throws -> [[UInt64]] { try LibpcapRuleset.counters(counters, slots: Self.rules.count + 1) }
        let clock = ContinuousClock(), deadline = clock.now + .seconds(3)
        while try counted().reduce(0, { $0 + ($1.first ?? 0) }) < UInt64(sent.count) && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertEqual(try counted(), expected, "packets and bytes (tag included) per slot: policy, rules 1-3")
        if let vlanCapture {
            let delivered = try vlanCapture.receive(limit: 2, timeout: .seconds(1))
            XCTAssertEqual(delivered.count, 2, "the passed VLAN 200 frames reach the VLAN device, tag back in metadata")
        } else {
            print("MetadataVLANTests: no `vlan` link type in this kernel (8021q): did not check that passed frames keep their tag")
        }
    }
}
