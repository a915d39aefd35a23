/// A ruleset as one eBPF program: the rules in order, first match wins, every decision counted.

import EBPF

extension Ruleset {
    /// The name the program uses for its counters map (resolved to a file descriptor at load).
    public static let counterMapName = "counters"

    /// The names the programs use for the drop log's maps (`PacketLogEmitter`).
    public static let logMaps = PacketLogMaps.standard

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
    /// in small rulesets: below it, the filters are cheaper than a trie lookup. Port runs too
    /// (`port N` counting three entries): measured (XDP, built-in mix), their array lookup
    /// costs about 5 ns and four port filters as much; the hash map a program with many port
    /// groups falls back to costs about 30 ns, as 16–20 filters (`docs/design-rule-merging.md`).
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
        segments(classifierRuns: classifierRuns(minimumRun: minimumRun), minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths)
    }

    /// The segments with the classifiers taking `runs` (`classifierRuns`): computed once by
    /// `RulesetSpec`, which places the rules with the same runs.
    func segments(classifierRuns runs: [Range<Int>], minimumRun: Int?, keepingHashedLengths: [String: [Int]]?) -> [RulesetSegment] {
        var segments: [RulesetSegment] = []
        var done = 0
        for run in runs {
            appendSegments(of: done..<run.lowerBound, minimumRun: minimumRun, to: &segments)
            let members = rules[run].map { ClassifierBuilder.Member(conjunctions: $0.conjunctions!, slot: $0.index + 1, verdict: $0.verdict) }
            segments.append(.classifier(ClassifierBuilder.build(members, number: segments.count, summaryThreshold: classifierSummaryThreshold)))
            done = run.upperBound
        }
        appendSegments(of: done..<rules.count, minimumRun: minimumRun, to: &segments)
        return LookupGroup.choosingHashTables(segments, keeping: keepingHashedLengths)
    }

    /// Rules a classifier takes in a run of at least this many (fewer are as cheap as filters
    /// and lookups; see docs/design-classifier.md).
    public static let defaultClassifierMinimumRun = 32
    /// A program holds at most this many classifiers (six maps each; a program may use 64).
    public static let maximumClassifiers = 6

    /// The runs of consecutive rules a classifier takes: rules that decompose
    /// (`Rule.conjunctions`), apart from runs of one lookup shape that stay lookups — those
    /// with a set (`xdpfw set` changes them in place) and those long enough that a trie or hash
    /// lookup beats a vector of their bits (a 100,000-address blocklist).
    func classifierRuns(minimumRun: Int?) -> [Range<Int>] {
        classifierRuns(classifiable: classifierCandidates(minimumRun: minimumRun).map { $0 == nil })
    }

    /// For each rule, nil when a classifier may take it, or why not.
    func classifierCandidates(minimumRun: Int?) -> [ClassifierPlacement.Reason?] {
        let longLookup = minimumRun ?? (rules.count > 256 ? 64 : Ruleset.defaultMinimumRun)
        var reasons: [ClassifierPlacement.Reason?] = rules.map {
            $0.usesSets ? .usesSet : $0.conjunctions == nil ? .notFields : nil
        }
        var index = 0
        while index < rules.count {
            var end = index + 1
            if let kind = rules[index].lookupKind {
                while end < rules.count, rules[end].lookupKind == kind { end += 1 }
                let entries = rules[index..<end].reduce(0) { $0 + $1.lookupMatches.count }
                if entries >= max(longLookup, 1) || rules[index..<end].contains(where: \.usesSets) {
                    for rule in index..<end where reasons[rule] == nil { reasons[rule] = .longLookupRun }
                }
            }
            index = end
        }
        return reasons
    }

    func classifierRuns(classifiable: [Bool]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var index = 0
        while index < rules.count, runs.count < Ruleset.maximumClassifiers {
            guard classifiable[index] else { index += 1; continue }
            var end = index + 1
            while end < rules.count, classifiable[end] { end += 1 }
            if end - index >= classifierMinimumRun { runs.append(index..<end) }
            index = end
        }
        return runs
    }

    /// Rules `range` as filters and lookup groups: each run of consecutive rules of one
    /// lookup kind with at least `minimumRun` lookup entries, or with a rule using a set,
    /// becomes one group.
    private func appendSegments(of range: Range<Int>, minimumRun: Int?, to segments: inout [RulesetSegment]) {
        var index = range.lowerBound
        while index < range.upperBound {
            var end = index + 1
            if let kind = rules[index].lookupKind {
                while end < range.upperBound, rules[end].lookupKind == kind { end += 1 }
            }
            // A run is long enough by its entries: one rule with a set of 100 addresses is 100.
            // A run with a set is a lookup however short, so that `xdpfw set add` can change it.
            let entries = rules[index..<end].reduce(0) { $0 + $1.lookupMatches.count }
            let hasSet = rules[index..<end].contains { $0.usesSets }
            // A lookup rule whose `or` cannot be written out (a large set) runs as a lookup however short.
            let programs = entries >= max(minimumRun ?? defaultMinimumRun, 1) || hasSet ? nil : try? rules[index..<end].map { try $0.program }
            if programs == nil, let kind = rules[index].lookupKind {
                let members = rules[index..<end].flatMap { rule in
                    rule.lookupMatches.map { LookupGroup.Member(match: $0, slot: rule.index + 1, verdict: rule.verdict, fromSet: rule.usesSets) }
                }
                segments.append(.lookup(LookupGroup(kind: kind, members: members, number: segments.count)))
            } else {
                // Only lookup rules may lack a program: a filter rule is compiled with its ruleset.
                guard let programs else { preconditionFailure("rule \(rules[index].number) is a filter without a program") }
                for (rule, program) in zip(rules[index..<end], programs) {
                    segments.append(.filter(program, verdict: rule.verdict, slot: rule.index + 1))
                }
            }
            index = end
        }
    }

    /// The program `apply` loads at `hook`: it returns each packet's verdict and counts it.
    /// The tries its lookup groups use are `lookupTables(for:minimumRun:)`.
    /// `logging`: with the drop log's code (`xdpfw log`), off until a logger switches it on.
    public func ebpfProgram(for hook: any HookContext, minimumRun: Int? = nil,
                            keepingHashedLengths: [String: [Int]]? = nil, logging: Bool = true) throws(AssemblerError) -> [EBPFInstruction] {
        try ebpfProgram(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook,
                        logging: logging)
    }

    /// The program for segments of this ruleset (`segments(...)`).
    func ebpfProgram(segments: [RulesetSegment], hook: any HookContext, logging: Bool = true) throws(AssemblerError) -> [EBPFInstruction] {
        try EBPFRulesetProgram.generate(segments: segments, policy: policy, hook: hook, counterMap: Ruleset.counterMapName,
                                        log: logging ? Ruleset.logMaps : nil)
    }

    /// The name the programs of a ruleset split into chunks use for their program array.
    public static let chunkMapName = "chunks"

    /// The programs `apply` loads at `hook`: one when the ruleset fits in one (the same as
    /// `ebpfProgram`), else chunks chained by tail calls through `chunkMapName` (see
    /// `RulesetChunk`); the first is the one attached.
    public func ebpfChunks(for hook: any HookContext, minimumRun: Int? = nil,
                           budget: ChunkBudget = .verifier, logging: Bool = true) throws(AssemblerError) -> [RulesetChunk] {
        try RulesetSpec(self, minimumRun: minimumRun).chunks(for: hook, budget: budget, logging: logging)
    }

    /// The tries (with their contents) the program for `hook` looks rules up in.
    public func lookupTables(for hook: any HookContext, minimumRun: Int? = nil,
                             keepingHashedLengths: [String: [Int]]? = nil) -> [LookupTable] {
        Ruleset.lookupTables(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook)
    }

    /// The tables of segments' lookup groups, those of one name put together, and of their
    /// classifiers.
    static func lookupTables(segments: [RulesetSegment], hook: any HookContext) -> [LookupTable] {
        LookupTable.combined(segments.flatMap { segment -> [LookupTable] in
            switch segment {
            case let .lookup(group): group.tables(hook: hook)
            case let .classifier(classifier): classifier.tables(hook: hook)
            case .filter: []
            }
        })
    }
}
