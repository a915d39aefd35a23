import XCTest
import EBPF
import Kernel

final class HookInstallerTests: XCTestCase {
    func testApplyReplaceStatusDetachXDP() throws {
        try skipUnlessRoot()
        let network = try TestNetwork()
        defer { network.close() }
        let root = testPinRoot()
        defer { removeTree(root) }
        let name = network.b.interfaceName

        try network.run(in: .b) {
            let counters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 2, name: "counters")
            let first = try BPFProgram.load(type: .xdp, instructions: TinyProgram.counting(into: counters, verdict: 2), name: "first")
            let applied = try HookInstaller.apply(program: first, maps: [.counters: counters],
                                                  rulesetText: "pass udp\n", interface: name, hook: .xdp, mode: .native, root: root)
            XCTAssertTrue(applied.isAttached)
            XCTAssertEqual(applied.attachedProgramID, try first.info().id)
            XCTAssertEqual(applied.xdpMode, .native)
            XCTAssertEqual(applied.rulesetText, "pass udp\n")
            XCTAssertEqual(applied.record["mode"], "native")
            XCTAssertEqual(applied.directory.entries, ["attachment", "counters", "link", "program", "ruleset"])

            // A wrong program type is refused before anything changes.
            let tc = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(0), name: "tc")
            XCTAssertThrowsError(try HookInstaller.apply(program: tc, rulesetText: "", interface: name, hook: .xdp, root: root))
            XCTAssertThrowsError(try HookInstaller.apply(program: first, rulesetText: "", interface: "nope0", hook: .xdp, root: root)) {
                XCTAssertEqual($0 as? KernelError, .unknownInterface("nope0"))
            }

            let second = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(1), name: "second")
            let replaced = try HookInstaller.apply(program: second, rulesetText: "drop\n", interface: name, hook: .xdp, root: root)
            XCTAssertEqual(replaced.attachedProgramID, try second.info().id)
            XCTAssertEqual(replaced.program?.name, "second")
            XCTAssertEqual(replaced.rulesetText, "drop\n")
            XCTAssertEqual(replaced.xdpMode, .native, "auto keeps the mode of the link it updates")
            XCTAssertEqual(replaced.directory.entries, ["attachment", "link", "program", "ruleset"], "unused maps are unpinned")

            let all = HookInstallation.all(root: root)
            XCTAssertEqual(all.map(\.interface), [name])
            XCTAssertEqual(HookInstallation.find(interface: name, hook: .xdp, root: root)?.isAttached, true)
            XCTAssertNil(HookInstallation.find(interface: name, hook: .tcIngress, root: root))
        }
        // From the host namespace the pins still tell what runs where.
        let seen = try XCTUnwrap(HookInstallation.find(interface: name, hook: .xdp, root: root))
        XCTAssertTrue(seen.isAttached)
        XCTAssertEqual(seen.program?.name, "second")
        XCTAssertEqual(seen.xdpMode, .native)
        XCTAssertEqual(seen.rulesetText, "drop\n")

        try network.run(in: .b) {

            XCTAssertTrue(try HookInstaller.detach(interface: name, hook: .xdp, root: root))
            XCTAssertFalse(try HookInstaller.detach(interface: name, hook: .xdp, root: root))
            XCTAssertEqual(try XDPAttachment.query(try NetworkInterface(name: name)).programID, 0)
            XCTAssertEqual(HookInstallation.all(root: root).count, 0)
        }
    }

    func testTCIngressAndEgressShareTheQdiscTheyCreated() throws {
        try skipUnlessRoot()
        let network = try TestNetwork()
        defer { network.close() }
        let root = testPinRoot()
        defer { removeTree(root) }
        let name = network.a.interfaceName

        try network.run(in: .a) {
            let interface = try NetworkInterface(name: name)
            let pass = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(0), name: "pass")
            let ingress = try HookInstaller.apply(program: pass, rulesetText: "in\n", interface: name, hook: .tcIngress, root: root)
            XCTAssertEqual(ingress.record["clsact"], "created")
            XCTAssertTrue(ingress.isAttached)
            let egress = try HookInstaller.apply(program: pass, rulesetText: "out\n", interface: name, hook: .tcEgress, root: root)
            XCTAssertEqual(egress.record["clsact"], "created", "the qdisc came from xdpfw's ingress apply")
            let again = try HookInstaller.apply(program: pass, rulesetText: "in 2\n", interface: name, hook: .tcIngress, root: root)
            XCTAssertEqual(again.rulesetText, "in 2\n")
            XCTAssertEqual(again.record["clsact"], "created")

            XCTAssertTrue(try HookInstaller.detach(interface: name, hook: .tcIngress, root: root))
            XCTAssertEqual(try TCAttachment(interface: interface, direction: .egress).programID(), try pass.info().id,
                           "egress keeps running: the qdisc stays")
            XCTAssertTrue(try HookInstaller.detach(interface: name, hook: .tcEgress, root: root))
            XCTAssertTrue(try TCAttachment.createClsact(on: interface), "the last detach removed the qdisc xdpfw made")
            try TCAttachment.destroyClsact(on: interface)

            // A qdisc that was there before xdpfw stays.
            XCTAssertTrue(try TCAttachment.createClsact(on: interface))
            let kept = try HookInstaller.apply(program: pass, rulesetText: "", interface: name, hook: .tcEgress, root: root)
            XCTAssertEqual(kept.record["clsact"], "existing")
            try HookInstaller.detach(interface: name, hook: .tcEgress, root: root)
            XCTAssertFalse(try TCAttachment.createClsact(on: interface))
            XCTAssertEqual(HookInstallation.all(root: root).count, 0)
        }
    }

    /// Runs `body` in one namespace of a fresh veth pair with that end's interface name and a
    /// pin root, both removed afterwards.
    private func inTestNetwork(_ side: TestNetwork.Side, function: String = #function,
                               _ body: (_ name: String, _ root: String) throws -> Void) throws {
        try skipUnlessRoot()
        let network = try TestNetwork()
        defer { network.close() }
        let root = testPinRoot(function)
        defer { removeTree(root) }
        let name = side == .a ? network.a.interfaceName : network.b.interfaceName
        try network.run(in: side) { try body(name, root) }
    }

    /// Fails `apply` at the step named `failingStep`, after the new program is attached.
    private static func failing(at failingStep: String) -> (String) throws(KernelError) -> Void {
        { (step) throws(KernelError) in
            if step == failingStep { throw .invalidArgument("injected failure before renaming \(step)") }
        }
    }

    func testFailureAfterTheAttachKeepsThePreviousXDPProgramAndPins() throws {
        try inTestNetwork(.b) { name, root in
            let counters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 2, name: "counters")
            let first = try BPFProgram.load(type: .xdp, instructions: TinyProgram.counting(into: counters, verdict: 2), name: "first")
            try HookInstaller.apply(program: first, maps: [.counters: counters], rulesetText: "one\n",
                                    extraRecord: ["file": "one.conf"], interface: name, hook: .xdp, mode: .native, root: root)
            let firstID = try first.info().id

            let newCounters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 2, name: "counters")
            let second = try BPFProgram.load(type: .xdp, instructions: TinyProgram.counting(into: newCounters, verdict: 1), name: "second")
            // Before the first rename, after some renames, after the last.
            for step in ["program", "ruleset", "attachment"] {
                XCTAssertThrowsError(try HookInstaller.apply(
                    program: second, maps: [.counters: newCounters], rulesetText: "two\n",
                    extraRecord: ["file": "two.conf"], interface: name, hook: .xdp, root: root,
                    postAttachStep: Self.failing(at: step))) {
                    XCTAssertEqual(($0 as? KernelError)?.description, "injected failure before renaming \(step)")
                }
                let kept = try XCTUnwrap(HookInstallation.find(interface: name, hook: .xdp, root: root))
                XCTAssertEqual(kept.attachedProgramID, firstID, "failing at \(step): the old program runs")
                XCTAssertEqual(try XDPAttachment.query(try NetworkInterface(name: name)).programID, firstID)
                XCTAssertEqual(kept.program?.id, firstID, "failing at \(step): the pin names the old program")
                XCTAssertEqual(kept.rulesetText, "one\n")
                XCTAssertEqual(kept.record["file"], "one.conf")
                XCTAssertEqual(kept.record["mode"], "native")
                XCTAssertEqual(try kept.map(.counters).id, counters.id, "the old counters stay pinned")
                XCTAssertEqual(kept.directory.entries, ["attachment", "counters", "link", "program", "ruleset"])
            }

            // A live link is not detached to change its mode: refused, the old program keeps running.
            XCTAssertThrowsError(try HookInstaller.apply(program: second, rulesetText: "two\n", interface: name,
                                                         hook: .xdp, mode: .generic, root: root)) {
                XCTAssertTrue("\($0)".contains("detach"), "\($0)")
            }
            XCTAssertEqual(HookInstallation.find(interface: name, hook: .xdp, root: root)?.attachedProgramID, firstID)

            // The record is written once, with the caller's keys beside the installer's.
            let applied = try HookInstaller.apply(program: second, maps: [.counters: newCounters],
                                                  rulesetText: "two\n", extraRecord: ["file": "two.conf"],
                                                  interface: name, hook: .xdp, root: root)
            XCTAssertEqual(applied.attachedProgramID, try second.info().id)
            XCTAssertEqual(applied.record["file"], "two.conf")
            XCTAssertEqual(try applied.map(.counters).id, newCounters.id)

            // A failing first attach leaves nothing attached and no pins.
            XCTAssertTrue(try HookInstaller.detach(interface: name, hook: .xdp, root: root))
            XCTAssertThrowsError(try HookInstaller.apply(program: first, rulesetText: "one\n", interface: name, hook: .xdp,
                                                         root: root, postAttachStep: Self.failing(at: "ruleset")))
            XCTAssertEqual(try XDPAttachment.query(try NetworkInterface(name: name)).programID, 0)
            XCTAssertNil(HookInstallation.find(interface: name, hook: .xdp, root: root))
        }
    }

    func testFailureAfterTheAttachKeepsThePreviousTCProgramOrNothing() throws {
        try inTestNetwork(.a) { name, root in
            let interface = try NetworkInterface(name: name)
            let ingress = TCAttachment(interface: interface, direction: .ingress)
            let pass = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(0), name: "pass")
            let drop = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(2), name: "drop")

            // First attach fails: no filter, and the clsact qdisc this apply made is gone again.
            XCTAssertThrowsError(try HookInstaller.apply(program: pass, rulesetText: "in\n", interface: name, hook: .tcIngress,
                                                         root: root, postAttachStep: Self.failing(at: "attachment")))
            XCTAssertNil(try ingress.programID())
            XCTAssertNil(HookInstallation.find(interface: name, hook: .tcIngress, root: root))
            XCTAssertTrue(try TCAttachment.createClsact(on: interface), "the qdisc was removed")
            try TCAttachment.destroyClsact(on: interface)

            // Replacing fails: the old filter program stays, the pins still name it.
            try HookInstaller.apply(program: pass, rulesetText: "in\n", interface: name, hook: .tcIngress, root: root)
            XCTAssertThrowsError(try HookInstaller.apply(program: drop, rulesetText: "in 2\n", interface: name, hook: .tcIngress,
                                                         root: root, postAttachStep: Self.failing(at: "ruleset")))
            let kept = try XCTUnwrap(HookInstallation.find(interface: name, hook: .tcIngress, root: root))
            XCTAssertEqual(try ingress.programID(), try pass.info().id)
            XCTAssertEqual(kept.program?.id, try pass.info().id)
            XCTAssertEqual(kept.rulesetText, "in\n")
            XCTAssertEqual(kept.record["clsact"], "created")
            XCTAssertTrue(try HookInstaller.detach(interface: name, hook: .tcIngress, root: root))
            XCTAssertTrue(try TCAttachment.createClsact(on: interface), "detach removed the qdisc xdpfw made")
            try TCAttachment.destroyClsact(on: interface)
        }
    }
}
