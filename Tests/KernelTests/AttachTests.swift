import XCTest
import Foundation
import Kernel

/// Real traffic between two namespaces the test creates; everything is deleted with them.
final class AttachTests: XCTestCase {
    static let port: UInt16 = 40_123

    func makeNetwork() throws -> TestNetwork {
        try skipUnlessRoot()
        return try TestNetwork()   // as root this must work: a failure here is a failure
    }

    /// Sends `count` UDP frames from A to B and returns how many of them B's packet socket saw.
    func deliveredToB(_ network: TestNetwork, count: Int = 5, wait: Duration = .milliseconds(400)) throws -> Int {
        let capture = try network.capture(on: .b)
        defer { capture.close() }
        let frame = network.udpFrame(from: .a, sourcePort: 5555, destinationPort: Self.port, payload: Array("xdpfw".utf8))
        try network.send([frame], from: .a, copies: count)
        return try capture.receive(limit: count, timeout: wait) {
            $0.count >= 38 && $0[36] == UInt8(Self.port >> 8) && $0[37] == UInt8(Self.port & 0xff)
        }.count
    }

    func testXDPAttachReplaceQueryDetach() throws {
        for mode in [XDPMode.native, .generic] {
            let network = try makeNetwork()
            defer { network.close() }
            let root = testPinRoot() + mode.rawValue
            defer { removeTree(root) }
            XCTAssertEqual(try deliveredToB(network), 5, "traffic flows before anything is attached")

            let drop = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(1), name: "drop")
            let pass = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "pass")
            let interface = try network.interface(.b)
            let attachment = try network.run(in: .b) { try XDPAttachment.attach(drop, to: interface, mode: mode) }
            XCTAssertEqual(attachment.mode, mode)
            let status = try network.run(in: .b) { try XDPAttachment.query(interface) }
            XCTAssertEqual(status, XDPStatus(programID: try drop.info().id, mode: mode))
            XCTAssertEqual(try deliveredToB(network), 0, "\(mode) XDP drop program drops")

            // A second attach while ours is there is refused with a clear error.
            XCTAssertThrowsError(try network.run(in: .b) { try XDPAttachment.attach(pass, to: interface, mode: mode) }) { error in
                guard case KernelError.foreignProgramAttached(_, _, let id, let name) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(id, try? drop.info().id)
                XCTAssertEqual(name, "drop")
            }

            // Pinned, the link outlives our handle; replace through the pin, atomically.
            let directory = PinDirectory(interface: interface.name, hook: .xdp, root: root)
            try directory.create()
            try attachment.pin(at: directory.path(of: PinDirectory.Entry.link))
            attachment.close()
            let pinned = try XDPAttachment.fromPinned(directory.path(of: PinDirectory.Entry.link))
            XCTAssertEqual(pinned.interface.index, interface.index)
            XCTAssertEqual(pinned.programID, try drop.info().id)
            XCTAssertThrowsError(try pinned.replace(with: pass, expected: pass), "replace checks the expected program")
            try pinned.replace(with: pass, expected: drop)
            XCTAssertEqual(try network.run(in: .b) { try XDPAttachment.query(interface) }.programID, try pass.info().id)
            XCTAssertEqual(try deliveredToB(network), 5, "pass program lets traffic through")

            try pinned.detach()
            try directory.remove()
            pinned.close()
            XCTAssertEqual(try network.run(in: .b) { try XDPAttachment.query(interface) }, XDPStatus(programID: 0, mode: nil))
            XCTAssertEqual(try deliveredToB(network), 5)
        }
    }

    func testXDPAutoOnLoopbackFallsBackToGeneric() throws {
        let network = try makeNetwork()
        defer { network.close() }
        let pass = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "pass")
        try network.run(in: .a) {
            let lo = try NetworkInterface(name: "lo")
            let attachment = try XDPAttachment.attach(pass, to: lo, mode: .auto)
            XCTAssertEqual(attachment.mode, .generic)
            XCTAssertEqual(try XDPAttachment.query(lo).mode, .generic)
            attachment.close()  // unpinned: closing the only handle detaches
            XCTAssertEqual(try XDPAttachment.query(lo).programID, 0)
        }
    }

    func testTCIngressAndEgressReplaceInPlaceAndDetach() throws {
        let network = try makeNetwork()
        defer { network.close() }
        let counter = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 1, name: "count")
        let countAndPass = try BPFProgram.load(type: .tc, instructions: TinyProgram.counting(into: counter, verdict: 0), name: "count_ok")
        let countAndDrop = try BPFProgram.load(type: .tc, instructions: TinyProgram.counting(into: counter, verdict: 2), name: "count_shot")
        let drop = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(2), name: "shot")
        let interfaceA = try network.interface(.a), interfaceB = try network.interface(.b)

        // Ingress on B counts what arrives.
        try network.run(in: .b) {
            XCTAssertTrue(try TCAttachment.createClsact(on: interfaceB))
            XCTAssertFalse(try TCAttachment.createClsact(on: interfaceB), "an existing clsact is reported, not an error")
            let ingress = TCAttachment(interface: interfaceB, direction: .ingress)
            XCTAssertNil(try ingress.programID())
            try ingress.attach(countAndPass)
            XCTAssertEqual(try ingress.programID(), try countAndPass.info().id)
            XCTAssertNil(try TCAttachment(interface: interfaceB, direction: .egress).programID())
        }
        XCTAssertEqual(try deliveredToB(network), 5)
        XCTAssertGreaterThanOrEqual(try counter.sumUInt64(key: BPFMap.key(index: 0))?.first ?? 0, 5)
        try network.run(in: .b) {
            let ingress = TCAttachment(interface: interfaceB, direction: .ingress)
            try ingress.attach(countAndDrop)  // same handle and priority: replaced in place
            XCTAssertEqual(try ingress.programID(), try countAndDrop.info().id)
        }
        let before = try counter.sumUInt64(key: BPFMap.key(index: 0))?.first ?? 0
        _ = try deliveredToB(network)  // the packet socket sees frames before TC ingress drops them
        XCTAssertGreaterThanOrEqual((try counter.sumUInt64(key: BPFMap.key(index: 0))?.first ?? 0) - before, 5)

        // Egress on A drops before the wire.
        try network.run(in: .a) {
            XCTAssertTrue(try TCAttachment.createClsact(on: interfaceA))
            try TCAttachment(interface: interfaceA, direction: .egress).attach(drop)
        }
        XCTAssertEqual(try deliveredToB(network), 0, "TC egress drop on A stops the frames")

        // Detach leaves nothing.
        try network.run(in: .a) {
            let egress = TCAttachment(interface: interfaceA, direction: .egress)
            XCTAssertTrue(try egress.detach())
            XCTAssertFalse(try egress.detach())
            XCTAssertNil(try egress.programID())
            try TCAttachment.destroyClsact(on: interfaceA)
            XCTAssertTrue(try TCAttachment.createClsact(on: interfaceA), "the qdisc was gone")
            try TCAttachment.destroyClsact(on: interfaceA)
        }
        try network.run(in: .b) {
            XCTAssertTrue(try TCAttachment(interface: interfaceB, direction: .ingress).detach())
            try TCAttachment.destroyClsact(on: interfaceB)
        }
        XCTAssertEqual(try deliveredToB(network), 5)
    }

    func testNamespaceEntryKeepsPinsVisible() throws {
        let network = try makeNetwork()
        defer { network.close() }
        let root = testPinRoot()
        defer { removeTree(root) }
        let directory = PinDirectory(interface: "xfw-a", hook: .xdp, root: root)
        try directory.create()
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "visible")
        try program.pin(at: directory.path(of: PinDirectory.Entry.program))

        XCTAssertThrowsError(try NetworkInterface(name: "xfw-a"), "the veth is not in the host namespace")
        try NetworkNamespace.run(in: network.a.namespace) {
            XCTAssertNoThrow(try NetworkInterface(name: "xfw-a"))
            XCTAssertTrue(BPFFileSystem.isBPFFileSystem())
            XCTAssertEqual(try BPFProgram.fromPinned(directory.path(of: PinDirectory.Entry.program)).name, "visible")
        }
        XCTAssertThrowsError(try NetworkInterface(name: "xfw-a"), "run(in:) returned to the host namespace")
        XCTAssertThrowsError(try NetworkNamespace.enter(name: "xdpfw-no-such-namespace")) { error in
            XCTAssertEqual(error as? KernelError, .notFound(path: "/run/netns/xdpfw-no-such-namespace"))
        }
    }
}

extension AttachTests {
    /// At TC ingress the stack has already moved an 802.1Q tag into `__sk_buff.vlan_present` /
    /// `vlan_tci`: what the eBPF back end must treat as if the tag stood inline.
    func testTCIngressSeesVLANTagAsMetadata() throws {
        let network = try makeNetwork()
        defer { network.close() }
        let counter = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 1, name: "vlan")
        let program = try BPFProgram.load(type: .tc, instructions: [
            TinyProgram.instruction(code: 0x61, dst: 2, src: 1, offset: 20),   // r2 = skb->vlan_present
            TinyProgram.instruction(code: 0x15, dst: 2, offset: 12, imm: 0),   // if r2 == 0 goto return
            TinyProgram.instruction(code: 0x61, dst: 2, src: 1, offset: 24),   // r2 = skb->vlan_tci
            TinyProgram.instruction(code: 0x55, dst: 2, offset: 10, imm: 100), // if r2 != 100 goto return
        ] + TinyProgram.counting(into: counter, verdict: 0), name: "vlan_meta")
        let interface = try network.interface(.b)
        try network.run(in: .b) {
            try TCAttachment.createClsact(on: interface)
            try TCAttachment(interface: interface, direction: .ingress).attach(program)
        }
        let plain = network.udpFrame(from: .a, sourcePort: 1, destinationPort: 2)
        let tagged = Array(plain[0..<12]) + [0x81, 0x00, 0x00, 100] + Array(plain[12...])
        try network.send([plain, tagged, tagged], from: .a)
        let clock = ContinuousClock(), deadline = clock.now + .seconds(2)
        while (try counter.sumUInt64(key: BPFMap.key(index: 0))?.first ?? 0) < 2 && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(try counter.sumUInt64(key: BPFMap.key(index: 0))?.first, 2, "only the two tagged frames, tag in metadata")
    }
}
