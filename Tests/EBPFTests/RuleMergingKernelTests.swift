import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

/// Rule merging against libpcap's first match: random rulesets of mergeable shapes (host/net
/// rules, net+port rules, mixed with others) at several sizes, loaded as `apply` loads them,
/// every packet's verdict and every rule's counter compared with libpcap running each rule's
/// own program in order.
final class RuleMergingKernelTests: XCTestCase {
    func testMergedRunsDecideAndCountAsLibpcapFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = MergeableRulesets(seed: 4)
        let sizes: [(MergeableRulesets.Family, Int)] = [
            (.address, 1), (.address, 10), (.address, 100), (.address, 1000),
            (.addressAndPort, 1), (.addressAndPort, 10), (.addressAndPort, 100), (.addressAndPort, 1000),
            (.mixed, 10), (.mixed, 100), (.mixed, 300),
        ]
        for (family, count) in sizes {
            let rules = workload.rules(family, count: count)
            let packets = workload.packets(count: 400) + TestPackets.all.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }
            try compare(rules, packets: packets, policy: count % 2 == 0 ? .pass : .drop, label: "\(family.rawValue) × \(count)")
        }
    }

    /// Few prefix lengths: the tables are hash maps, one per length, looked up one by one.
    func testRunsWithFewPrefixLengthsUseHashMapsAndDecideAsLibpcap() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = MergeableRulesets(seed: 11)
        workload.ipv4Lengths = [16, 24, 32]
        workload.ipv6Lengths = [16, 48, 128]
        for (family, count) in [(MergeableRulesets.Family.address, 200), (.addressAndPort, 200), (.mixed, 100)] {
            let rules = workload.rules(family, count: count)
            let ruleset = try Ruleset.parse(rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "few.conf")
            if family != .mixed { XCTAssert(ruleset.lookupTables(for: XDPHook()).contains { $0.isHash }, "\(family): some tables are hash maps") }
            try compare(rules, packets: workload.packets(count: 400), policy: .pass, label: "few lengths, \(family.rawValue) × \(count)")
        }
    }

    /// Nested and duplicate prefixes with different verdicts: the first rule, not the longest
    /// prefix, decides.
    func testFirstMatchIsNotLongestPrefix() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let rules: [(expression: String, verdict: Verdict)] = [
            ("src net 10.0.0.0/16", .drop), ("src net 10.0.1.0/24", .pass), ("src host 10.0.1.2", .pass),
            ("src net 10.0.0.0/8", .pass), ("src host 10.1.1.1", .drop), ("src host 10.1.1.1", .pass),
            ("dst net 10.0.0.0/8", .drop), ("host 10.2.0.1", .pass),
        ]
        var workload = MergeableRulesets(seed: 7)
        try compare(rules, packets: workload.packets(count: 300), policy: .pass, label: "nested prefixes")
    }

    /// Rules with sets (`set bad { ... }`, `@bad`) against libpcap running the same rules with
    /// each set written out as an `or` of its entries.
    func testSetsMeanTheWrittenOutOr() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = MergeableRulesets(seed: 21)
        let addresses = (0..<60).map { index -> String in
            let address = workload.ipv4Address()
            return index % 3 == 0 ? "\(workload.mask(address, to: 16).map(String.init).joined(separator: "."))/16"
                : address.map(String.init).joined(separator: ".") + "/32"
        }
        let hosts6 = (0..<10).map { _ in workload.ipv6Text(workload.ipv6Address()) }
        let ports = ["22", "53", "443"]
        let sets = "set bad { \(addresses.joined(separator: ", ")) }\nset bad6 {\(hosts6.joined(separator: " "))}\nset web { \(ports.joined(separator: ",")) }\n"
        let rules: [(ours: String, written: String, verdict: Verdict)] = [
            ("dst host @bad6", "(dst host \(hosts6.joined(separator: " or ")))", .drop),
            ("src net @bad and tcp dst port @web", "(src net \(addresses.joined(separator: " or "))) and (tcp dst port \(ports.joined(separator: " or ")))", .pass),
            ("src net @bad", "(src net \(addresses.joined(separator: " or ")))", .drop),
            ("udp dst port @web and not dst net @bad", "(udp dst port \(ports.joined(separator: " or "))) and not (dst net \(addresses.joined(separator: " or ")))", .drop),
            ("net @bad", "(net \(addresses.joined(separator: " or ")))", .pass),
        ]
        let text = sets + rules.map { "\($0.verdict.rawValue) \($0.ours)\n" }.joined()
        let ruleset = try Ruleset.parse(text, file: "sets.conf")
        XCTAssertEqual(ruleset.segments().filter { if case .lookup = $0 { return true } else { return false } }.count, 3,
                       "the single-direction set rules are lookups (three kinds in a row), the others filters")
        try compare(rules.map { ($0.written, $0.verdict) }, packets: workload.packets(count: 400), policy: .pass,
                    label: "sets", text: text)
    }

    private func compare(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]], policy: Verdict, label: String,
                         text ours: String? = nil) throws {
        let text = ours ?? "policy \(policy.rawValue)\n" + rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined()
        let ruleset = try Ruleset.parse(text, file: "merged.conf")
        let oracle = try LibpcapRuleset(rules)
        let expectedSlots = packets.map(oracle.slot(for:))
        XCTAssertGreaterThanOrEqual(Set(expectedSlots).count, min(rules.count, 3), "\(label): the packets reach several rules")
        for hook in KernelDifferentialTests.hooks {
            for minimumRun in Set([1, ruleset.defaultMinimumRun]).sorted() {
                let segments = ruleset.segments(minimumRun: minimumRun)
                let loaded: LoadedRulesetProgram
                do {
                    loaded = try LoadedRulesetProgram.load(try ruleset.ebpfProgram(for: hook.context, minimumRun: minimumRun),
                                                           type: hook.type, name: "xdpfw_merged", counterMap: Ruleset.counterMapName,
                                                           counterSlots: ruleset.counterSlots,
                                                           lookupTables: ruleset.lookupTables(for: hook.context, minimumRun: minimumRun))
                } catch {
                    XCTFail("\(label), \(hook.context.name), runs of \(minimumRun)+ merged: \(String(describing: error).prefix(300)) … \(String(describing: error).suffix(300))")
                    continue
                }
                defer { loaded.close() }
                var mismatches: [String] = []
                var expected = [[UInt64]](repeating: [0, 0], count: ruleset.counterSlots)
                var refused = 0
                for (index, packet) in packets.enumerated() {
                    let result: TestRunResult
                    do { result = try loaded.program.testRun(packet: packet) } catch {
                        // The kernel refuses to test-run some frames at TC (very short ones, some tagged ones).
                        XCTAssert(hook.type == .schedCLS, "\(label), \(hook.context.name): packet \(index): \(error)")
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
                XCTAssertLessThan(refused, packets.count / 2, "\(label), \(hook.context.name): most packets ran")
                let where_ = "\(label), \(hook.context.name), runs of \(minimumRun)+ merged (\(segments.count) segments)"
                XCTAssertEqual(mismatches, [], where_)
                try loaded.assertCounters(expected, where_)
            }
        }
    }
}
