import XCTest
import DifferentialTesting
import FilterCompiler
import Kernel
@testable import EBPF

/// At TC the first program of a chain hands the metadata VLAN tag's state to the next ones in
/// `skb->cb[0]` (BPF_PROG_TEST_RUN never puts a tag in metadata, so the first program here is
/// a stand-in that writes a chosen state and tail-calls a real continuation chunk). The
/// continuation must read the tag on entry back (a `vlan_tci` test decides) and, when the tag
/// was moved inline, pop it in its epilogue (the frame comes back without its inline tag).
final class ChainStateKernelTests: XCTestCase {
    func testContinuationProgramsTakeOverTheVLANStateAndPopTheTagTheFirstMoved() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        // Rule 1: vlan_tci (as on entry) == 100.
        let tciIs100 = FilterProgram(blocks: [
            Block(statements: [.loadAncillary(.vlanTag)], terminator: .branch(.equal, .constant(100), ifTrue: 1, ifFalse: 2)),
            Block(terminator: .verdict(262144)), Block(terminator: .verdict(0)),
        ], entry: 0)
        let hook = TCHook(), vlan = try XCTUnwrap(hook.metadataVLAN)
        let continuation = try EBPFRulesetProgram.generate(segments: [.filter(tciIs100, verdict: .drop, slot: 1)], range: 0..<1,
                                                           link: .continuation(next: nil), policy: .pass, hook: hook,
                                                           counterMap: .counters)
        let frame = PacketBuilder.tagged([(0x8100, 100)], type: 0x0800, PacketBuilder.ipv4(protocol: 17, PacketBuilder.udp(source: 1, destination: 2)))
        let untagged = Array(frame[0..<12]) + Array(frame[16...])
        for (present, moved, tci) in [(1, 1, 100), (1, 0, 100), (1, 1, 7), (0, 0, 0)] as [(Int32, Int32, Int32)] {
            var first = Assembler()
            first.move(.r2, present | moved << 1 | tci << 16)
            first.store(.word, to: .r1, offset: vlan.chainStateOffset, from: .r2)
            first.loadMap(.r2, named: .chunks)
            first.move(.r3, 1)
            first.call(.tailCall)
            first.move(.r0, 99)
            first.exit()
            let loaded = try LoadedRulesetProgram.load(chunks: [try first.assemble(), continuation], type: .tc, name: "xdpfw_chain",
                                                       counterMap: .counters, chunkMap: .chunks, counterSlots: 2, lookupTables: [])
            defer { loaded.close() }
            let result = try loaded.program.testRun(packet: frame)
            let state = "present \(present), moved inline \(moved), TCI \(tci)"
            XCTAssertEqual(result.returnValue, UInt32(bitPattern: hook.returnCode(for: tci == 100 ? .drop : .pass)), state)
            XCTAssertEqual(result.packetOut, moved == 1 ? untagged : frame, "\(state): the tag is popped only when it was moved")
            XCTAssertEqual(try LibpcapRuleset.counters(loaded.counters, slots: 2).map { $0[0] }, tci == 100 ? [0, 1] : [1, 0], state)
        }
    }
}
