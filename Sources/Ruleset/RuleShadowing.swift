/// Rules that can never match because an earlier rule matches every packet they do (first
/// match wins), decided exactly on the rules' field constraints and never guessed: a rule that
/// does not decompose is only ever found a duplicate of an earlier rule with the same text that
/// compiled to the same program.

import PacketFormats

/// A warning `check` prints about a rule that never matches.
public struct RuleWarning: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        /// The same expression as the earlier rule, or the same field constraints.
        case duplicate
        /// The earlier rule matches every packet this one does, and more.
        case shadowed
    }

    public var kind: Kind
    /// The rule that never matches.
    public var rule: RuleText
    /// The earlier rule that matches its packets first.
    public var earlier: RuleText

    /// `rules.conf:5: warning: rule 3 never matches: rule 1 (line 2) matches every packet it does`.
    public func message(file: String) -> String {
        let why = kind == .duplicate ? "it duplicates rule \(earlier.number) (line \(earlier.line))"
            : "rule \(earlier.number) (line \(earlier.line)) matches every packet it does"
        var text = "\(file):\(rule.line): warning: rule \(rule.number) never matches: \(why)"
        if earlier.verdict != rule.verdict {
            text += ", and \(earlier.verdict == .drop ? "drops" : "passes") them: rule \(rule.number) would \(rule.verdict.rawValue) them"
        }
        return text
    }
}

public enum RuleShadowing {
    /// A warning for every rule that never matches, naming the first earlier rule that hides it.
    public static func warnings(_ ruleset: Ruleset) -> [RuleWarning] {
        var warnings: [RuleWarning] = []
        var firstWithText: [String: Int] = [:]
        var decomposed = CoverIndex()
        for (index, rule) in ruleset.rules.enumerated() {
            let text = RuleText.blanksCollapsed(rule.expression)
            if let earlier = firstWithText[text], sameMeaning(ruleset.rules[earlier], rule) {
                warnings.append(RuleWarning(kind: .duplicate, rule: rule.text, earlier: ruleset.rules[earlier].text))
                continue
            }
            if firstWithText[text] == nil { firstWithText[text] = index }
            guard let conjunctions = rule.conjunctions ?? RuleDecomposition.conjunctions(of: rule) else { continue }
            if let earlier = decomposed.firstHiding(conjunctions, hides) {
                let same = Set(earlier.conjunctions) == Set(conjunctions)
                warnings.append(RuleWarning(kind: same ? .duplicate : .shadowed, rule: rule.text, earlier: ruleset.rules[earlier.index].text))
                continue
            }
            decomposed.insert(index: index, conjunctions)
        }
        return warnings
    }

    /// Whether two rules of the same text compiled to the same test: the same lookups, or the
    /// same program (a host name may resolve to other addresses the second time).
    static func sameMeaning(_ one: Rule, _ other: Rule) -> Bool {
        if !one.lookupMatches.isEmpty || !other.lookupMatches.isEmpty { return one.lookupMatches == other.lookupMatches }
        guard let first = try? one.writtenOutProgram(), let second = try? other.writtenOutProgram() else { return false }
        return first == second
    }

    /// Whether a rule of `earlier`'s conjunctions matches every packet a rule of `later`'s
    /// matches: each of `later`'s conjunctions is covered by one of `earlier`'s. (Short frames
    /// change nothing: a covering conjunction reads no further than the one it covers, and in a
    /// rule that decomposes nothing libpcap tests before a conjunction reads further than it.)
    static func hides(_ earlier: [FieldConjunction], _ later: [FieldConjunction]) -> Bool {
        later.allSatisfy { narrow in earlier.contains { $0.covers(narrow) } }
    }
}
