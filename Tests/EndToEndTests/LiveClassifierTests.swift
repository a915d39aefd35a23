import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset

/// Rulesets the packet classifier takes almost whole (1,000 rules of the ACL, firewall and
/// IP-chain families, then LiveCounterTests' rules, among them a TCP-flags test) applied with
/// `xdpfw apply` and real frames through a veth pair: the counters `xdpfw stats` reports at the
/// receiver's XDP and the sender's TC egress equal libpcap's first match, packet for packet and
/// byte for byte.
final class LiveClassifierTests: XCTestCase {
    func testClassifiedFamiliesCountAsLibpcapOnLiveTraffic() throws {
        try EndToEnd.requireRoot()
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        for family in RulesetFamily.allCases {
            let generated = GeneratedRuleset(family: family, count: 1_000, seed: 43, policy: .drop)
            let rules = generated.expressions + LiveCounterTests.rules
            let ruleset = try LibpcapRuleset(rules)
            let text = ruleset.rulesText(policy: .pass)
            let placement = try Ruleset.parse(text, file: "\(family).conf").classifierPlacement
            XCTAssertGreaterThan(placement.classifiedRules, 900, "\(family): the classifier takes the family's rules")
            let frames = generated.aimedFlows(count: 300).map(\.flow.frame) + EndToEnd.sendableFrames(limit: 300)
            for hook in ["xdp", "tc-egress"] {
                let side: TestNetwork.Side = hook == "tc-egress" ? .a : .b
                try quiet.apply(text, on: side, hook: hook, options: ["--reset-counters"])
                XCTAssertEqual(try quiet.countingDifferences(frames, ruleset, on: side, hook: hook), [],
                               "\(family) at \(hook): [packets, bytes] of these slots differ")
                let expected = ruleset.expectedCounters(frames)
                XCTAssertGreaterThan(expected.prefix(1_001).filter { $0[0] > 0 }.count, 80, "\(family): the frames reach many family rules")
                let detached = try Xdpfw.run(["-n", quiet.network.end(side).namespace, "detach", quiet.network.end(side).interfaceName,
                                              "--hook", hook])
                XCTAssertEqual(detached.status, 0, detached.standardError)
            }
        }
    }
}
