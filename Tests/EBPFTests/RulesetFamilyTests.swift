import XCTest
@testable import DifferentialTesting
import EBPF
import Kernel
import Ruleset

/// The generated ACL, firewall and IP-chain rulesets (issue 10's benchmarks and classifier tests
/// rest on them): every rule compiles with our compiler and with libpcap, the generator's own
/// field matcher agrees with libpcap rule by rule, every aimed frame's libpcap first match is its
/// rule, and the families have the shapes their names promise.
final class RulesetFamilyTests: XCTestCase {
    func testEveryGeneratedRuleCompilesWithOursAndWithLibpcap() throws {
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 300, seed: 7)
            let ours = try Ruleset.parse(generated.text, file: "\(family.rawValue).conf")
            XCTAssertEqual(ours.rules.map(\.expression), generated.rules.map(\.expression), family.rawValue)
            XCTAssertNoThrow(try LibpcapRuleset(generated.expressions), family.rawValue)
        }
    }

    func testAimedFramesFirstMatchTheirRuleUnderLibpcap() throws {
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 400, seed: 11)
            let oracle = try LibpcapRuleset(generated.expressions)
            let aimed = generated.aimedFlows(count: 48)
            XCTAssertGreaterThanOrEqual(aimed.count, 40, "\(family.rawValue): most chosen rules can be aimed at")
            XCTAssertGreaterThanOrEqual(aimed.map(\.rule).max() ?? 0, 390, "\(family.rawValue): frames reach the end of the list")
            for (rule, flow) in aimed {
                XCTAssertEqual(oracle.slot(for: flow.frame), rule + 1,
                               "\(family.rawValue): frame aimed at rule \(rule + 1) '\(generated.rules[rule].expression)'")
            }
        }
    }

    /// The aiming rests on `FieldRule.matches`: it must be libpcap's meaning of the expression, for
    /// frames that match and frames that do not (other rules' aimed frames).
    func testFieldMatcherIsLibpcapsMeaning() throws {
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 200, seed: 3)
            let flows = generated.aimedFlows(count: 40).map(\.flow)
            var disagreements: [String] = []
            for rule in generated.rules {
                guard case let .success(program) = Libpcap.compile(rule.expression, optimize: true) else {
                    XCTFail("libpcap refuses '\(rule.expression)'"); continue
                }
                let filter = Libpcap.PreparedFilter(program)
                for flow in flows where (filter.run(packet: flow.frame, wireLength: UInt32(flow.frame.count)) != 0) != rule.matches(flow) {
                    disagreements.append("'\(rule.expression)' on \(flow)")
                }
            }
            XCTAssertEqual(disagreements.prefix(5), [], "\(family.rawValue): \(disagreements.count) disagreements")
        }
    }

    func testSameSeedSameRulesetOtherSeedAnother() {
        for family in RulesetFamily.allCases {
            let one = GeneratedRuleset(family: family, count: 100, seed: 5)
            XCTAssertEqual(one.text, GeneratedRuleset(family: family, count: 100, seed: 5).text, family.rawValue)
            XCTAssertNotEqual(one.text, GeneratedRuleset(family: family, count: 100, seed: 6).text, family.rawValue)
            XCTAssertEqual(one.aimedFlows(count: 10).map(\.flow), one.aimedFlows(count: 10).map(\.flow), family.rawValue)
        }
    }

    /// Shares over 2,000 rules: what makes each family the kind of ruleset it stands for.
    func testFamiliesHaveTheirShapes() {
        func share(_ family: RulesetFamily, _ predicate: (FieldRule) -> Bool) -> Double {
            let rules = GeneratedRuleset(family: family, count: 2000, seed: 1).rules
            return Double(rules.filter(predicate).count) / Double(rules.count)
        }
        XCTAssertGreaterThan(share(.acl) { $0.destination?.isHost == true }, 0.6, "ACL: mostly exact destinations")
        XCTAssertGreaterThan(share(.acl) { $0.destinationPorts != nil }, 0.7, "ACL: destination ports")
        XCTAssertGreaterThan(share(.firewall) { $0.source == nil }, 0.5, "firewall: wildcard sources")
        XCTAssertGreaterThan(share(.firewall) { $0.destination == nil }, 0.4, "firewall: wildcard destinations")
        XCTAssertGreaterThan(share(.firewall) { $0.sourcePorts.map { $0.lower != $0.upper } ?? false }, 0.3, "firewall: source port ranges")
        XCTAssertGreaterThan(share(.ipChain) { $0.source.map { !$0.isHost } ?? false }, 0.6, "IP chain: source prefixes")
        XCTAssertLessThan(share(.ipChain) { $0.destinationPorts != nil || $0.sourcePorts != nil }, 0.4, "IP chain: few ports")
        for family in RulesetFamily.allCases {
            XCTAssert((0.08...0.25).contains(share(family, \.isIPv6)), "\(family.rawValue): a share of IPv6")
            XCTAssert((0.4...0.6).contains(share(family) { $0.verdict == .drop }), "\(family.rawValue): drop and pass interleaved")
        }
    }

    /// Our eBPF in the kernel against libpcap's first match, on each family with its aimed frames.
    func testGeneratedRulesetsGiveLibpcapsFirstMatchInTheKernel() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 120, seed: 13, policy: .drop)
            try compareFirstMatch(generated.expressions, packets: generated.aimedFlows(count: 60).map(\.flow.frame),
                                  policy: .drop, label: family.rawValue)
        }
    }
}

/// The counts the design's memory estimates rest on, on rules small enough to count by hand.
final class FieldStatisticsTests: XCTestCase {
    func testPortRangesSplitIntoTheFewestPrefixesThatCoverThem() {
        // 1024-65535 = 1024/6 + 2048/5 + 4096/4 + 8192/3 + 16384/2 + 32768/1.
        XCTAssertEqual(FieldStatistics(rules: [PortRange(1024, 65535)]).prefixExpandedEntries, 6)
        XCTAssertEqual(FieldStatistics(rules: [PortRange(80, 80)]).prefixExpandedEntries, 1)
        XCTAssertEqual(FieldStatistics(rules: [PortRange(1, 65534)]).prefixExpandedEntries, 30, "the worst case")
        var random = SeededRandom(seed: 9)
        for _ in 0..<200 {   // the prefixes tile the range: their sizes add up to its width
            let lower = random.next(65536), upper = lower + random.next(65536 - lower)
            let lengths = FieldStatistics.prefixLengths(PortRange(UInt16(lower), UInt16(upper)))
            XCTAssertLessThanOrEqual(lengths.count, 30)
            XCTAssertEqual(lengths.map { 1 << (16 - $0) }.reduce(0, +), upper - lower + 1, "\(lower)-\(upper)")
        }
    }

    func testElementaryIntervalsAndTuples() {
        let web = FieldRule(verdict: .drop, source: nil, destination: AddressPrefix(masking: [192, 0, 2, 5], length: 32), transport: .tcp,
                            sourcePorts: nil, destinationPorts: PortRange(80, 80))
        var high = web
        high.destinationPorts = PortRange(1024, 65535)
        high.source = AddressPrefix(masking: [10, 1, 0, 0], length: 16)
        let statistics = FieldStatistics([web, high, web])
        XCTAssertEqual(statistics.destinationPortIntervals, 4, "0-79, 80, 81-1023, 1024-65535")
        XCTAssertEqual(statistics.sourcePortIntervals, 1)
        XCTAssertEqual(statistics.destinationPrefixes.ipv4, 1)
        XCTAssertEqual(statistics.sourcePrefixes.ipv4, 1)
        XCTAssertEqual(statistics.prefixExpandedEntries, 1 + 6 + 1)
        XCTAssertEqual(statistics.tuples, 1 + 6, "(0, 32, tcp, 0, 16) and six of (16, 32, tcp, 0, n)")
        XCTAssertEqual(statistics.wildcards.source, 2)
    }

    /// The cut trees whose size the design quotes must answer each aimed frame's rule (libpcap's
    /// first match, as RulesetFamilyTests checks), or their counts measure the wrong tree.
    func testCutTreesAnswerTheAimedRule() {
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 100, seed: 17)
            let flows = generated.aimedFlows(count: 40).filter { !$0.flow.isIPv6 }
            for partition in CutTreeEstimate.Partition.allCases {
                let tree = CutTreeEstimate(generated.rules, partition: partition)
                XCTAssertFalse(tree.gaveUp, "\(family.rawValue), \(partition.rawValue)")
                XCTAssertGreaterThan(tree.references, 0)
                for (rule, flow) in flows {
                    XCTAssertEqual(tree.walk(flow).rule, rule, "\(family.rawValue), \(partition.rawValue): '\(generated.rules[rule].expression)'")
                }
            }
        }
    }
}

extension FieldStatistics {
    /// Statistics of one TCP rule per destination port range.
    init(rules ranges: [PortRange]) {
        self.init(ranges.map { FieldRule(verdict: .drop, source: nil, destination: nil, transport: .tcp, sourcePorts: nil, destinationPorts: $0) })
    }
}
