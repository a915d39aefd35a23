import EBPF

/// What applying a ruleset would change against the one in force: rules kept (verdict and
/// expression unchanged, matched in order as `CounterCarry` matches them: these keep their
/// counters), removed and added, the policy, and the entries of each set.
public struct RulesetChange: Sendable {
    public struct SetChange: Sendable, Equatable {
        public var name: String
        public var added: [String]
        public var removed: [String]
    }

    /// (old rule index, new rule index) of the rules kept.
    public var kept: [(old: Int, new: Int)]
    /// Old rule indexes no longer there, and new rule indexes not there before.
    public var removed: [Int]
    public var added: [Int]
    public var policyChanged: Bool
    /// Sets whose entries differ (a set new or gone lists all its entries as added or removed).
    public var sets: [SetChange]

    public var isEmpty: Bool { removed.isEmpty && added.isEmpty && !policyChanged && sets.isEmpty }

    public init(old: [RuleText], oldPolicy: Verdict, oldSets: [String: [String]],
                new: [RuleText], newPolicy: Verdict, newSets: [String: [String]]) {
        let slots = CounterCarry.slots(old: old.map { ($0.verdict, $0.expression) }, oldPolicy: oldPolicy,
                                       new: new.map { ($0.verdict, $0.expression) }, newPolicy: newPolicy)
        let rule = Ruleset.counterSlot(ofRuleIndex: nil)
        kept = slots.filter { $0.from != rule }.map { (old: $0.from - 1, new: $0.to - 1) }
        let keptOld = Set(kept.map(\.old)), keptNew = Set(kept.map(\.new))
        removed = old.indices.filter { !keptOld.contains($0) }
        added = new.indices.filter { !keptNew.contains($0) }
        policyChanged = oldPolicy != newPolicy
        sets = Set(oldSets.keys).union(newSets.keys).sorted().compactMap { name in
            let before = oldSets[name] ?? [], after = newSets[name] ?? []
            let beforeSet = Set(before), afterSet = Set(after)
            let change = SetChange(name: name, added: after.filter { !beforeSet.contains($0) },
                                   removed: before.filter { !afterSet.contains($0) })
            return change.added.isEmpty && change.removed.isEmpty ? nil : change
        }
    }
}
