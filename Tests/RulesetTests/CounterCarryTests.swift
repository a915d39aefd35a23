import XCTest
import EBPF
@testable import Ruleset

/// Which counters a re-apply keeps: unchanged rules matched in order, the policy when its verdict
/// is unchanged.
final class CounterCarryTests: XCTestCase {
    func rules(_ texts: [String]) -> [(verdict: Verdict, expression: String)] {
        texts.map { text in
            let words = text.split(separator: " ", maxSplits: 1)
            return (Verdict(rawValue: String(words[0]))!, String(words[1]))
        }
    }

    func testUnchangedRulesKeepTheirCountersInOrder() {
        let old = rules(["drop tcp port 22", "pass udp", "drop icmp", "pass arp"])
        let new = rules(["drop tcp  port 22", "drop udp port 53", "drop icmp", "pass udp", "pass arp"])
        let pairs = CounterCarry.slots(old: old, oldPolicy: .pass, new: new, newPolicy: .pass)
        // policy 0→0; rule 1 (blanks don't matter); 'pass udp' moved past 'drop icmp', which is
        // matched first, so it does not carry; 'pass arp' does.
        XCTAssertEqual(pairs.map { [$0.from, $0.to] }, [[0, 0], [1, 1], [3, 3], [4, 5]])
    }

    func testAChangedVerdictOrPolicyStartsAgain() {
        let pairs = CounterCarry.slots(old: rules(["drop tcp port 22"]), oldPolicy: .pass,
                                       new: rules(["pass tcp port 22"]), newPolicy: .drop)
        XCTAssertTrue(pairs.isEmpty)
    }

    func testDuplicatesPairOneToOne() {
        let old = rules(["drop icmp", "drop icmp", "pass udp"])
        let new = rules(["drop icmp", "pass udp", "drop icmp"])
        let pairs = CounterCarry.slots(old: old, oldPolicy: .drop, new: new, newPolicy: .drop)
        XCTAssertEqual(pairs.map { [$0.from, $0.to] }, [[0, 0], [1, 1], [3, 2]])
    }
}
