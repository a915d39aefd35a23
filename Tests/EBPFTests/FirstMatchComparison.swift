import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

extension XCTestCase {
    /// Loads `rules` as `apply` does (runs merged with the default threshold and with every
    /// mergeable rule merged) at XDP and TC, runs every packet, and compares each verdict and
    /// every rule's counter (packets, bytes) with libpcap running each rule's own program in
    /// order. `text`: the rules file when it is not the rules one a line (sets).
    func compareFirstMatch(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]], policy: Verdict, label: String,
                         text ours: String? = nil, configure: (inout Ruleset) -> Void = { _ in }) throws {
        let text = ours ?? "policy \(policy.rawValue)\n" + rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined()
        var ruleset = try Ruleset.parse(text, file: "merged.conf")
        configure(&ruleset)
        let oracle = try LibpcapRuleset(rules)
        let expectedSlots = packets.map(oracle.slot(for:))
        XCTAssertGreaterThanOrEqual(Set(expectedSlots).count, min(rules.count, 3), "\(label): the packets reach several rules")
        for hook in KernelDifferentialTests.hooks {
            // Every mergeable rule merged, and each kind's default threshold (nil).
            for minimumRun in [1, nil] as [Int?] {
                let segments = ruleset.segments(minimumRun: minimumRun)
                let loaded: LoadedRulesetProgram
                do {
                    loaded = try LoadedRulesetProgram.load(try ruleset.ebpfProgram(for: hook.context, minimumRun: minimumRun),
                                                           type: hook.type, name: "xdpfw_merged", counterMap: MapName.counters,
                                                           counterSlots: ruleset.counterSlots,
                                                           lookupTables: ruleset.lookupTables(for: hook.context, minimumRun: minimumRun),
                                                           xdpFragments: hook.xdpFragments)
                } catch {
                    XCTFail("\(label), \(hook.name), runs of \(minimumRun.map { "\($0)+" } ?? "default") merged: \(String(describing: error).prefix(300)) … \(String(describing: error).suffix(300))")
                    continue
                }
                defer { loaded.close() }
                var mismatches: [String] = []
                var expected = [[UInt64]](repeating: [0, 0], count: ruleset.counterSlots)
                var refused = 0
                // A single-buffer XDP program's test run takes frames up to a page only.
                for (index, packet) in packets.enumerated() where packet.count <= hook.frameLimit {
                    let result: TestRunResult
                    do { result = try loaded.program.testRun(packet: packet) } catch {
                        // The kernel refuses to test-run some frames at TC (very short ones, some tagged ones).
                        XCTAssert(hook.type == .tc, "\(label), \(hook.name): packet \(index): \(error)")
                        refused += 1
                        continue
                    }
                    let slot = expectedSlots[index]
                    expected[slot][0] += 1
                    expected[slot][1] += UInt64(packet.count)
                    let verdict = slot == 0 ? policy : rules[slot - 1].verdict
                    if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)), mismatches.count < 5 {
                        mismatches.append("packet \(index) (\(VerdictComparison.hexDump(packet, limit: 64))): libpcap's first match is "
                                          + (slot == 0 ? "the policy" : "rule \(slot) '\(rules[slot - 1].expression)'")
                                          + ", program returned \(result.returnValue)")
                    }
                }
                XCTAssertLessThan(refused, packets.count / 2, "\(label), \(hook.name): most packets ran")
                let where_ = "\(label), \(hook.name), runs of \(minimumRun.map { "\($0)+" } ?? "default") merged (\(segments.count) segments)"
                XCTAssertEqual(mismatches, [], where_)
                try loaded.assertCounters(expected, where_)
            }
        }
    }
}
