/// A ruleset as one eBPF program: the rules in order, first match wins, every decision counted.

import EBPF

extension Ruleset {
    /// The name the program uses for its counters map (resolved to a file descriptor at load).
    public static let counterMapName = "counters"

    /// How many counter slots the program uses: slot 0 counts packets the policy decided, slot
    /// `rule.index + 1` those the rule decided. Each slot holds two u64, packets then bytes,
    /// per CPU.
    public var counterSlots: Int { rules.count + 1 }

    /// The counter slot of a rule, or of the policy when `rule` is nil.
    public static func counterSlot(ofRuleIndex index: Int?) -> Int { index.map { $0 + 1 } ?? 0 }

    /// The rule index a counter slot counts for, nil for the policy's slot: the reverse of
    /// `counterSlot(ofRuleIndex:)`.
    public static func ruleIndex(ofCounterSlot slot: Int) -> Int? { slot == 0 ? nil : slot - 1 }

    /// Runs of at least this many consecutive rules of one mergeable shape become one lookup
    /// in small rulesets: below it, the filters are cheaper than a trie lookup.
    public static let defaultMinimumRun = 8

    /// The shortest run merged by default: `defaultMinimumRun`, but every mergeable rule in a
    /// ruleset of more than 256 rules, where the filters of many short runs in a row would make
    /// the path the verifier follows through the program too long.
    public var defaultMinimumRun: Int { rules.count > 256 ? 1 : Ruleset.defaultMinimumRun }

    /// The rules in order as filters and lookup groups: each run of consecutive rules of one
    /// lookup kind with at least `minimumRun` lookup entries, or with a rule using a set,
    /// becomes one group.
    /// `keepingHashedLengths`: see `LookupGroup.choosingHashTables(_:keeping:)`.
    public func segments(minimumRun: Int? = nil, keepingHashedLengths: [String: [Int]]? = nil) -> [RulesetSegment] {
        let minimumRun = minimumRun ?? defaultMinimumRun
        var segments: [RulesetSegment] = []
        var index = 0
        while index < rules.count {
            var end = index + 1
            if let kind = rules[index].lookupKind {
                while end < rules.count, rules[end].lookupKind == kind { end += 1 }
            }
            // A run is long enough by its entries: one rule with a set of 100 addresses is 100.
            // A run with a set is a lookup however short, so that `xdpfw set add` can change it.
            let entries = rules[index..<end].reduce(0) { $0 + $1.lookupMatches.count }
            let hasSet = rules[index..<end].contains { $0.usesSets }
            if entries >= max(minimumRun, 1) || hasSet, let kind = rules[index].lookupKind {
                let members = rules[index..<end].flatMap { rule in
                    rule.lookupMatches.map { LookupGroup.Member(match: $0, slot: rule.index + 1, verdict: rule.verdict, fromSet: rule.usesSets) }
                }
                segments.append(.lookup(LookupGroup(kind: kind, members: members, number: segments.count)))
            } else {
                for rule in rules[index..<end] { segments.append(.filter(rule.program, verdict: rule.verdict, slot: rule.index + 1)) }
            }
            index = end
        }
        return LookupGroup.choosingHashTables(segments, keeping: keepingHashedLengths)
    }

    /// The program `apply` loads at `hook`: it returns each packet's verdict and counts it.
    /// The tries its lookup groups use are `lookupTables(for:minimumRun:)`.
    public func ebpfProgram(for hook: any HookContext, minimumRun: Int? = nil,
                            keepingHashedLengths: [String: [Int]]? = nil) throws(AssemblerError) -> [EBPFInstruction] {
        try ebpfProgram(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook)
    }

    /// The program for segments of this ruleset (`segments(...)`).
    func ebpfProgram(segments: [RulesetSegment], hook: any HookContext) throws(AssemblerError) -> [EBPFInstruction] {
        try EBPFRulesetProgram.generate(segments: segments, policy: policy, hook: hook, counterMap: Ruleset.counterMapName)
    }

    /// The name the programs of a ruleset split into chunks use for their program array.
    public static let chunkMapName = "chunks"

    /// The programs `apply` loads at `hook`: one when the ruleset fits in one (the same as
    /// `ebpfProgram`), else chunks chained by tail calls through `chunkMapName` (see
    /// `RulesetChunk`); the first is the one attached.
    public func ebpfChunks(for hook: any HookContext, minimumRun: Int? = nil,
                           budget: ChunkBudget = .verifier) throws(AssemblerError) -> [RulesetChunk] {
        try EBPFRulesetProgram.generateChunks(segments: segments(minimumRun: minimumRun), policy: policy, hook: hook,
                                              counterMap: Ruleset.counterMapName, chunkMap: Ruleset.chunkMapName,
                                              budget: budget)
    }

    /// The tries (with their contents) the program for `hook` looks rules up in.
    public func lookupTables(for hook: any HookContext, minimumRun: Int? = nil,
                             keepingHashedLengths: [String: [Int]]? = nil) -> [LookupTable] {
        Ruleset.lookupTables(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook)
    }

    /// The tables of segments' lookup groups, those of one name put together.
    static func lookupTables(segments: [RulesetSegment], hook: any HookContext) -> [LookupTable] {
        LookupTable.combined(segments.flatMap { segment -> [LookupTable] in
            if case let .lookup(group) = segment { return group.tables(hook: hook) }
            return []
        })
    }
}
