import XCTest
import EBPF
import Kernel
@testable import Ruleset
import Firewall

/// When the verifier refuses a chunk as too complex after all (the budget is an estimate), the
/// ruleset is split finer and loaded again.
final class ChunkRetryTests: XCTestCase {
    func testAChunkTheVerifierFindsTooComplexIsSplitFinerAndLoads() throws {
        try EndToEnd.requireRoot()
        // Each rule has a bounded loop the verifier walks some 4,000 instructions of: 400 in one
        // program are far over its 1,000,000, 100 a program are under it.
        let text = "policy pass\n" + (0..<400).map { "drop ip6 protochain \($0 % 250 + 1) and src host 10.8.\($0 / 250).\($0 % 250 + 1)\n" }.joined()
        let ruleset = try Ruleset.parse(text, file: "loops.conf")
        let generous = ChunkBudget(pendingBranches: 1_000_000, walkedInstructions: 4_000_000)
        XCTAssertEqual(try ruleset.ebpfChunks(for: XDPHook(), budget: generous).count, 1, "the budget puts all rules in one program")
        let loaded = try LoadedRuleset.load(ruleset, hook: .xdp, budget: generous)
        defer { loaded.close() }
        XCTAssertGreaterThan(loaded.programCount, 1, "split finer after the verifier refused")
        let result = try loaded.program.testRun(packet: [UInt8](repeating: 0, count: 60))
        XCTAssertEqual(result.returnValue, 2, "an all-zero frame passes (XDP_PASS)")
    }
}
