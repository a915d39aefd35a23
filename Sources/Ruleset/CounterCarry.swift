import EBPF

/// Which counters of the rules in force carry over when a new ruleset replaces them, as
/// `iptables-restore --counters` keeps them: a rule whose verdict and expression are unchanged
/// keeps its packets and bytes, matched in order (a rule moved past others it was matched
/// against does not carry), and the policy keeps its counter when its verdict is unchanged.
/// Expressions compare as written, with runs of blanks as one space.
public enum CounterCarry {
    /// (old counter slot, new counter slot) pairs, in new-slot order.
    public static func slots(old: [(verdict: Verdict, expression: String)], oldPolicy: Verdict,
                             new: [(verdict: Verdict, expression: String)], newPolicy: Verdict) -> [(from: Int, to: Int)] {
        var pairs: [(from: Int, to: Int)] = []
        if oldPolicy == newPolicy {
            pairs.append((Ruleset.counterSlot(ofRuleIndex: nil), Ruleset.counterSlot(ofRuleIndex: nil)))
        }
        // Old positions of each rule text, front first; each new rule takes the first one after
        // the last rule matched, so the pairs keep the order of both lists.
        var positions: [String: [Int]] = [:]
        for (index, rule) in old.enumerated() { positions[key(rule), default: []].append(index) }
        var next: [String: Int] = [:]
        var last = -1
        for (index, rule) in new.enumerated() {
            let key = key(rule)
            guard let candidates = positions[key] else { continue }
            var cursor = next[key] ?? 0
            while cursor < candidates.count && candidates[cursor] <= last { cursor += 1 }
            next[key] = cursor
            guard cursor < candidates.count else { continue }
            last = candidates[cursor]
            next[key] = cursor + 1
            pairs.append((Ruleset.counterSlot(ofRuleIndex: last), Ruleset.counterSlot(ofRuleIndex: index)))
        }
        return pairs
    }

    static func key(_ rule: (verdict: Verdict, expression: String)) -> String {
        rule.verdict.rawValue + " " + RuleText.blanksCollapsed(rule.expression)
    }
}

extension RuleText {
    /// An expression as rules compare by text: runs of blanks as one space, none at the ends.
    static func blanksCollapsed(_ expression: String) -> String {
        expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
