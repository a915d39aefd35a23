import EBPF
import Foundation
import XCTest
import Kernel
import Firewall

/// `xdpfw detach` leaves nothing of xdpfw behind: no XDP program on the interface, no TC filter,
/// no clsact qdisc xdpfw created (one it found stays), no pins, no program of ours loaded.
final class DetachTests: XCTestCase {
    func testDetachLeavesNoProgramFilterQdiscOrPin() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let a = quiet.network.a, b = quiet.network.b
        // A clsact someone else made on a: detach must leave it.
        try IPCommand.run(["netns", "exec", a.namespace, "tc", "qdisc", "add", "dev", a.interfaceName, "clsact"])

        let rules = "policy pass\ndrop udp port 53\n"
        var programIDs: [UInt32] = []
        for hook in [Hook.xdp, .tcIngress, .tcEgress] {
            try quiet.apply(rules, on: .b, hook: hook.rawValue)
            programIDs.append(try XCTUnwrap(try quiet.attachedProgramID(on: .b, hook: hook), "\(hook) attached"))
        }
        // A replaced program must be gone as well.
        try quiet.apply(rules + "drop icmp\n", on: .b, hook: "xdp")
        programIDs.append(try XCTUnwrap(try quiet.attachedProgramID(on: .b, hook: .xdp)))
        try quiet.apply(rules, on: .a, hook: "tc-ingress")
        programIDs.append(try XCTUnwrap(try quiet.attachedProgramID(on: .a, hook: .tcIngress)))
        let mapIDs = programIDs.compactMap { try? BPFProgram.info(id: $0) }.flatMap(\.mapIDs)

        XCTAssertTrue(try IPCommand.run(["-n", b.namespace, "link", "show", "dev", b.interfaceName]).contains("prog/xdp"))
        XCTAssertTrue(try qdiscs(b).contains("clsact"))
        XCTAssertTrue(BPFFileSystem.exists(PinDirectory.root(forNamespace: b.namespace) + "/" + b.interfaceName + "/xdp"))

        for end in [a, b] {
            let detached = try Xdpfw.run(["-n", end.namespace, "detach", end.interfaceName])
            XCTAssertEqual(detached.status, 0, detached.standardError)
        }

        XCTAssertFalse(try IPCommand.run(["-n", b.namespace, "link", "show", "dev", b.interfaceName]).contains("prog/xdp"),
                       "no XDP program on \(b.interfaceName)")
        XCTAssertFalse(try qdiscs(b).contains("clsact"), "the clsact xdpfw created is gone")
        XCTAssertTrue(try qdiscs(a).contains("clsact"), "the clsact xdpfw found stays")
        for direction in ["ingress", "egress"] {
            let filters = try IPCommand.run(["netns", "exec", a.namespace, "tc", "filter", "show", "dev", a.interfaceName, direction])
            XCTAssertEqual(filters.trimmingCharacters(in: .whitespacesAndNewlines), "", "no filter left at \(direction) of \(a.interfaceName)")
        }
        for end in [a, b] {
            XCTAssertFalse(BPFFileSystem.exists(PinDirectory.root(forNamespace: end.namespace)), "no pins for \(end.namespace)")
        }
        // The kernel frees programs and maps once the last reference is gone (after an RCU grace period).
        let deadline = Date().addingTimeInterval(3)
        var loaded = programIDs.filter { (try? BPFProgram.info(id: $0)) != nil }
        while !loaded.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            loaded = loaded.filter { (try? BPFProgram.info(id: $0)) != nil }
        }
        XCTAssertEqual(loaded, [], "programs of ours still loaded (of \(programIDs))")
        XCTAssertFalse(mapIDs.isEmpty)
        var maps = mapIDs.filter { (try? IPCommand.run(["netns", "exec", b.namespace, "bpftool", "map", "show", "id", String($0)])) != nil }
        while !maps.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            maps = maps.filter { (try? IPCommand.run(["netns", "exec", b.namespace, "bpftool", "map", "show", "id", String($0)])) != nil }
        }
        XCTAssertEqual(maps, [], "counter maps of ours still exist (of \(mapIDs))")
    }

    private func qdiscs(_ end: TestNetwork.End) throws -> String {
        try IPCommand.run(["netns", "exec", end.namespace, "tc", "qdisc", "show", "dev", end.interfaceName])
    }
}
