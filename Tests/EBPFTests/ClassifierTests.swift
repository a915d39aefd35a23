import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset

/// The packet classifier (issue 10): its tables walked in Swift give the rules' own first match
/// (the field matcher, held to libpcap in FieldConstraintsTests) on every catalog frame, its
/// truncations, the corpus and random frames; in the kernel, at XDP and TC, the verdicts and
/// every rule's counters are libpcap's first match.
final class ClassifierTests: XCTestCase {
    /// What the classifier takes of a rule (as `Ruleset` decides it).
    static func conjunctions(_ expression: String) -> [FieldConjunction]? {
        guard let all = RuleDecomposition.conjunctions(of: expression), all.count <= ClassifierBuilder.maximumEntriesPerRule,
              all.allSatisfy(ClassifierBuilder.accepts) else { return nil }
        return all
    }

    /// Random decomposable rules libpcap accepts, drop and pass alternating at random.
    static func decomposableRules(count: Int, seed: UInt64) -> [(expression: String, verdict: Verdict)] {
        var rules = DecomposableRules(seed: seed)
        var random = SeededRandom(seed: seed &+ 1)
        var result: [(expression: String, verdict: Verdict)] = []
        while result.count < count {
            let expression = rules.expression()
            guard Self.conjunctions(expression) != nil,
                  (try? Libpcap.compile(expression, optimize: true).get()) != nil else { continue }
            result.append((expression, random.next(2) == 0 ? .drop : .pass))
        }
        return result
    }

    /// The walk's first entry's rule against the first rule whose conjunctions match.
    /// Both scans: every word (`summaryThreshold` .max) and groups by row summaries (0).
    private func assertWalkIsFirstMatch(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]], label: String) throws {
        for threshold in [Int.max, 0] {
            try assertWalkIsFirstMatch(rules, packets: packets, summaryThreshold: threshold,
                                       label: label + (threshold == 0 ? ", summarized" : ""))
        }
    }

    private func assertWalkIsFirstMatch(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]],
                                        summaryThreshold: Int, label: String) throws {
        let conjunctions = rules.map { Self.conjunctions($0.expression)! }
        let classifier = ClassifierBuilder.build(zip(conjunctions, rules).enumerated().map { index, pair in
            ClassifierBuilder.Member(conjunctions: pair.0, slot: index + 1, verdict: pair.1.verdict)
        }, number: 0, summaryThreshold: summaryThreshold)
        if summaryThreshold == 0 { XCTAssertGreaterThan(classifier.groups.count, 1, "\(label): rules group by their addresses") }
        let walk = ClassifierWalk(classifier)
        var reached = Set<Int>(), failures: [String] = []
        for packet in packets {
            let expected = conjunctions.firstIndex { $0.contains { $0.matches(packet) } }.map { $0 + 1 }
            let found = walk.firstEntry(in: packet).map { classifier.entries[$0].slot }
            if let expected { reached.insert(expected) }
            if expected != found, failures.count < 5 {
                failures.append("\(packet.count)-byte frame \(VerdictComparison.hexDump(packet, limit: 64)): rule "
                                + "\(expected.map(String.init) ?? "none") matches first, the classifier says \(found.map(String.init) ?? "none")"
                                + (expected.map { " ('\(rules[$0 - 1].expression)')" } ?? ""))
            }
        }
        XCTAssertEqual(failures, [], label)
        XCTAssertGreaterThan(reached.count, min(rules.count, 3), "\(label): the frames reach several rules")
    }

    func testTablesWalkedGiveTheRulesFirstMatch() throws {
        for seed: UInt64 in [1, 2, 3] {
            try assertWalkIsFirstMatch(Self.decomposableRules(count: 150, seed: seed), packets: FieldConstraintsTests.packets,
                                       label: "seed \(seed)")
        }
    }

    func testTablesWalkedGiveTheFamiliesFirstMatch() throws {
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 500, seed: 21)
            // Aimed frames, and every 10th of the catalog, truncations and corpus.
            let sample = stride(from: 0, to: FieldConstraintsTests.packets.count, by: 10).map { FieldConstraintsTests.packets[$0] }
            let packets = generated.aimedFlows(count: 200).map(\.flow.frame) + sample
            try assertWalkIsFirstMatch(generated.expressions, packets: packets, label: family.rawValue)
        }
    }

    /// A ruleset of decomposable rules becomes one classifier; runs broken by rules that do not
    /// decompose become several, with the filters between them in their place.
    func testRunsOfDecomposableRulesBecomeClassifiers() throws {
        let rules = Self.decomposableRules(count: 100, seed: 4)
        let one = try Ruleset.parse(rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "c.conf")
        XCTAssertEqual(one.segments().filter { if case .classifier = $0 { true } else { false } }.count, 1)
        var text = ""
        for (index, rule) in rules.enumerated() {
            text += "\(rule.verdict.rawValue) \(rule.expression)\n"
            if index == 49 { text += "drop len > 1400\n" }
        }
        let segments = try Ruleset.parse(text, file: "c.conf").segments()
        XCTAssertEqual(segments.count, 3, "classifier, filter, classifier")
        if case .filter = segments[1] {} else { XCTFail("the rule that does not decompose stays a filter in its place") }
        var small = try Ruleset.parse(rules.prefix(20).map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "c.conf")
        XCTAssertFalse(small.segments().contains { if case .classifier = $0 { true } else { false } }, "20 rules stay a chain")
        small.classifierMinimumRun = 1
        XCTAssertTrue(small.segments().contains { if case .classifier = $0 { true } else { false } })
    }

    // MARK: In the kernel

    /// The frames the kernel test-runs whole (it refuses frames shorter than an Ethernet header,
    /// and runs a frame longer than a page in pieces): every 4th of the catalog, truncations,
    /// corpus and random frames of 14 to 1,514 bytes.
    static let kernelPackets = stride(from: 0, to: FieldConstraintsTests.packets.count, by: 4)
        .map { FieldConstraintsTests.packets[$0] }.filter { (14...1_514).contains($0.count) }

    func testClassifierInTheKernelGivesLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let rules = Self.decomposableRules(count: 200, seed: 5)
        try compareFirstMatch(rules, packets: Self.kernelPackets, policy: .pass, label: "decomposable rules")
        try compareFirstMatch(rules, packets: Self.kernelPackets, policy: .pass, label: "decomposable rules, summarized") {
            $0.classifierSummaryThreshold = 0
        }
    }

    func testClassifiersBetweenFiltersGiveLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var rules = Self.decomposableRules(count: 120, seed: 6)
        rules.insert(("len > 600", .drop), at: 40)
        rules.insert(("not tcp", .pass), at: 80)
        rules.insert(("vlan and udp", .drop), at: 81)
        try compareFirstMatch(rules, packets: Self.kernelPackets, policy: .drop, label: "classifiers and filters")
        try compareFirstMatch(rules, packets: Self.kernelPackets, policy: .drop, label: "classifiers and filters, summarized") {
            $0.classifierSummaryThreshold = 0
        }
        // Three classifiers of at most 50 rules, one after the other, each in parts.
        var small = try Ruleset.parse(rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "c.conf")
        small.classifierMaximumRules = 50
        XCTAssertEqual(small.classifierPlacement.classifiers, 3)
        try compareFirstMatch(rules, packets: Self.kernelPackets, policy: .drop, label: "classifiers of 50 rules and filters") {
            $0.classifierMaximumRules = 50
        }
    }

    /// The largest size: 10,000 IP-chain rules (the family with the largest tables), one
    /// classifier of summarized groups, in the kernel vs libpcap.
    func testTenThousandRulesInTheKernelGiveLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let generated = GeneratedRuleset(family: .ipChain, count: 10_000, seed: 37, policy: .pass)
        let packets = generated.aimedFlows(count: 200).map(\.flow.frame) + stride(from: 0, to: Self.kernelPackets.count, by: 8).map { Self.kernelPackets[$0] }
        try compareFirstMatch(generated.expressions, packets: packets, policy: .pass, label: "10,000 IP-chain rules")
    }

    func testFamiliesInTheKernelGiveLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 1_000, seed: 31, policy: .drop)
            let packets = generated.aimedFlows(count: 150).map(\.flow.frame)
            try compareFirstMatch(generated.expressions, packets: packets, policy: .drop, label: family.rawValue)
            try compareFirstMatch(generated.expressions, packets: packets, policy: .drop, label: family.rawValue + ", summarized") {
                $0.classifierSummaryThreshold = 0
            }
        }
    }
}
