import XCTest
import EBPF
@testable import Ruleset

/// How a ruleset is split into programs chained by tail calls (the kernel side is in
/// EBPFTests/ChunkedRulesetKernelTests).
final class RulesetChunkTests: XCTestCase {
    static func portAndHostRules(_ count: Int) throws -> Ruleset {
        let text = "policy pass\n" + (0..<count).map { "drop tcp port \($0 + 1) and host 10.0.\($0 / 250).\($0 % 250 + 1)\n" }.joined()
        var ruleset = try Ruleset.parse(text, file: "big.conf")
        // These tests are about chains of filter programs; a classifier would take such rules whole.
        ruleset.classifierMinimumRun = .max
        return ruleset
    }

    static let tailCall = EBPFInstruction(opcode: 0x85, immediate: HelperFunction.tailCall.rawValue)

    func testASmallRulesetStaysOneProgramWithoutTailCalls() throws {
        let ruleset = try Ruleset.parse("drop udp port 53\npass tcp\npolicy drop\n", file: "r")
        for hook in [XDPHook() as any HookContext, TCHook()] {
            let chunks = try ruleset.ebpfChunks(for: hook)
            XCTAssertEqual(chunks.count, 1)
            XCTAssertEqual(chunks[0].instructions, try ruleset.ebpfProgram(for: hook), "the same program as before chunking")
            XCTAssertEqual(chunks[0].ruleSlots, 1...2)
            XCTAssertFalse(chunks[0].instructions.contains(Self.tailCall))
        }
    }

    func testABigRulesetIsSplitIntoContiguousChunksChainedInOrder() throws {
        let ruleset = try Self.portAndHostRules(1200)
        let budget = ChunkBudget(pendingBranches: 300, walkedInstructions: ChunkBudget.verifier.walkedInstructions)
        for hook in [XDPHook() as any HookContext, TCHook()] {
            XCTAssertEqual(try ruleset.ebpfChunks(for: hook).count, 1, "1,200 such rules fit in one program")
            let chunks = try ruleset.ebpfChunks(for: hook, budget: budget)
            XCTAssertEqual(chunks.count, 5, "one branch pending for each rule, 18 while in one: 282 rules a chunk")
            XCTAssertLessThanOrEqual(chunks.count, EBPFRulesetProgram.maximumChunks)
            XCTAssertEqual(chunks.first?.segments.lowerBound, 0)
            XCTAssertEqual(chunks.last?.segments.upperBound, ruleset.segments().count)
            XCTAssertEqual(chunks.first?.ruleSlots?.lowerBound, 1)
            XCTAssertEqual(chunks.last?.ruleSlots?.upperBound, 1200)
            for (number, chunk) in chunks.enumerated() {
                if number > 0 {
                    XCTAssertEqual(chunk.segments.lowerBound, chunks[number - 1].segments.upperBound, "contiguous")
                    XCTAssertEqual(chunk.ruleSlots?.lowerBound, chunks[number - 1].ruleSlots.map { $0.upperBound + 1 })
                }
                let last = number == chunks.count - 1
                XCTAssertEqual(chunk.instructions.contains(Self.tailCall), !last, "chunk \(number): a tail call unless last")
                XCTAssertEqual(chunk.instructions.mapReferences,
                               Set(last ? [MapName.counters] : [MapName.counters, MapName.chunks]).union(Ruleset.logMaps.all))
            }
        }
    }

    func testARulesetNeedingMoreProgramsThanTailCallsAllowIsAnError() throws {
        let ruleset = try Self.portAndHostRules(100)
        let tiny = ChunkBudget(pendingBranches: 20, walkedInstructions: 1000)
        XCTAssertThrowsError(try ruleset.ebpfChunks(for: XDPHook(), budget: tiny)) { error in
            XCTAssert((error as? AssemblerError)?.message.contains("at most 34") ?? false, "\(error)")
        }
        // Each rule: one branch pending on the verifier's first way through it, 18 in all.
        let enough = ChunkBudget(pendingBranches: 18 + 5, walkedInstructions: 100_000)
        XCTAssertEqual(try ruleset.ebpfChunks(for: XDPHook(), budget: enough).count, 20, "five rules a chunk")
    }
}
