import XCTest
import DifferentialTesting
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
