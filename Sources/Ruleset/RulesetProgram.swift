/// A ruleset as one eBPF program: the rules in order, first match wins, every decision counted.

import EBPF

extension Ruleset {
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
    public func segments(minimumRun: Int? = nil, keepingHashedLengths: [MapName: [Int]]? = nil) -> [RulesetSegment] {
        segments(classifiers: classifierParts(minimumRun: minimumRun), minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths)
    }

    /// The segments with the classifiers taking `classifiers` (`classifierParts`): computed once
    /// by `RulesetSpec`, which places the rules with the same parts.
    func segments(classifiers: [[Range<Int>]], minimumRun: Int?, keepingHashedLengths: [MapName: [Int]]?) -> [RulesetSegment] {
        var segments: [RulesetSegment] = []
        var done = 0
        for parts in classifiers {
            var classifier: PacketClassifier?
            for (index, part) in parts.enumerated() {
                appendSegments(of: done..<part.lowerBound, minimumRun: minimumRun, to: &segments)
                if classifier == nil {
                    let members = parts.joined().map { rules[$0] }.map {
                        ClassifierBuilder.Member(conjunctions: $0.conjunctions!, slot: $0.index + 1, verdict: $0.verdict)
                    }
                    classifier = ClassifierBuilder.build(members, number: segments.count, sets: sets,
                                                         summaryThreshold: classifierSummaryThreshold)
                }
                segments.append(.classifier(classifier!, part: ClassifierPart(slots: part.lowerBound + 1...part.upperBound, index: index,
                                                                              count: parts.count)))
                done = part.upperBound
            }
        }
        appendSegments(of: done..<rules.count, minimumRun: minimumRun, to: &segments)
        return LookupGroup.choosingHashTables(segments, keeping: keepingHashedLengths)
    }

    /// A classifier takes the rules that may go into one when there are at least this many
    /// (fewer are as cheap as filters and lookups; see docs/design-classifier.md).
    public static let defaultClassifierMinimumRun = 32
    /// A classifier takes at most this many rules; more make several, each evaluated where its
    /// first part stands. Its tables grow faster than its rules (a row per distinct address and
    /// port value, each as wide as the rules): 10,000 IP-chain rules take 59 MiB, 61,000 random
    /// ones in one classifier took 1.7 GiB.
    public static let defaultClassifierMaximumRules = 10_000

    /// The ruleset's classifiers, each as its parts, runs of consecutive rules it takes (see
    /// `ClassifierPart`): the rules that decompose (`Rule.conjunctions`), apart from runs of
    /// one lookup shape that stay lookups — those with a set (`xdpfw set` changes them in
    /// place) and those long enough that a trie or hash lookup beats a vector of their bits (a
    /// 100,000-address blocklist). None when fewer than `classifierMinimumRun` rules may go and none of them tests a set;
    /// a new classifier every `classifierMaximumRules`. The classifiers follow each other in the
    /// order: every part of one stands before the first of the next, which is where the next
    /// is evaluated (and its first match takes the stack words of the one before).
    func classifierParts(minimumRun: Int?) -> [[Range<Int>]] {
        classifierParts(classifiable: classifierCandidates(minimumRun: minimumRun).map { $0 == nil })
    }

    /// For each rule, nil when a classifier may take it, or why not.
    func classifierCandidates(minimumRun: Int?) -> [ClassifierPlacement.Reason?] {
        let longLookup = minimumRun ?? (rules.count > 256 ? 64 : Ruleset.defaultMinimumRun)
        var reasons: [ClassifierPlacement.Reason?] = rules.map {
            $0.usesSets ? .usesSet : $0.conjunctions != nil ? nil : $0.expression.utf8.contains(UInt8(ascii: "@")) ? .setNotTestable : .notFields
        }
        // Each set test is a lookup per packet and doubles the kind array: the first few tests.
        var setTests = Set<PacketClassifier.SetTest>()
        for (index, rule) in rules.enumerated() where reasons[index] == nil {
            let tests = Set(rule.conjunctions!.flatMap(ClassifierBuilder.setTestsOf))
            guard !tests.isSubset(of: setTests) else { continue }
            if setTests.union(tests).count > PacketClassifier.maximumSetTests { reasons[index] = .tooManySets } else { setTests.formUnion(tests) }
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

    func classifierParts(classifiable: [Bool]) -> [[Range<Int>]] {
        // A rule that tests a set makes one however few rules could go in: there `xdpfw set`
        // changes the set in place whatever its size (and a set too large to write out runs
        // nowhere else), so where the rule runs does not hang on the entries of the day.
        guard classifiable.count(where: { $0 }) >= classifierMinimumRun
                || zip(rules, classifiable).contains(where: { $1 && $0.testsSetsInClassifier }) else { return [] }
        var classifiers: [[Range<Int>]] = [], parts: [Range<Int>] = [], taken = 0
        var index = 0
        while index < rules.count {
            guard classifiable[index] else { index += 1; continue }
            var end = index + 1
            while end < rules.count, classifiable[end], taken + end - index < classifierMaximumRules { end += 1 }
            parts.append(index..<end)
            taken += end - index
            if taken == classifierMaximumRules {
                classifiers.append(parts)
                (parts, taken) = ([], 0)
            }
            index = end
        }
        return parts.isEmpty ? classifiers : classifiers + [parts]
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
                            keepingHashedLengths: [MapName: [Int]]? = nil, logging: Bool = true) throws(AssemblerError) -> [EBPFInstruction] {
        try ebpfProgram(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook,
                        logging: logging)
    }

    /// The program for segments of this ruleset (`segments(...)`).
    func ebpfProgram(segments: [RulesetSegment], hook: any HookContext, logging: Bool = true) throws(AssemblerError) -> [EBPFInstruction] {
        try EBPFRulesetProgram.generate(segments: segments, policy: policy, hook: hook,
                                        log: logging ? Ruleset.logMaps : nil)
    }

    /// The programs `apply` loads at `hook`: one when the ruleset fits in one (the same as
    /// `ebpfProgram`), else chunks chained by tail calls through `MapName.chunks` (see
    /// `RulesetChunk`); the first is the one attached.
    public func ebpfChunks(for hook: any HookContext, minimumRun: Int? = nil,
                           budget: ChunkBudget = .verifier, logging: Bool = true) throws(AssemblerError) -> [RulesetChunk] {
        try RulesetSpec(self, minimumRun: minimumRun).chunks(for: hook, budget: budget, logging: logging)
    }

    /// The tries (with their contents) the program for `hook` looks rules up in.
    public func lookupTables(for hook: any HookContext, minimumRun: Int? = nil,
                             keepingHashedLengths: [MapName: [Int]]? = nil) -> [LookupTable] {
        Ruleset.lookupTables(segments: segments(minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths), hook: hook)
    }

    /// The tables of segments' lookup groups, those of one name put together, and of their
    /// classifiers.
    static func lookupTables(segments: [RulesetSegment], hook: any HookContext) -> [LookupTable] {
        var setTables = Set<MapName>()
        return LookupTable.combined(segments.flatMap { segment -> [LookupTable] in
            switch segment {
            case let .lookup(group): group.tables(hook: hook)
            case let .classifier(classifier, part):
                // A set's tables once, however many classifiers test it (`PacketClassifier.setTable`).
                part.index == 0 ? classifier.tables(hook: hook).filter { !PacketClassifier.isSetTable($0.name) || setTables.insert($0.name).inserted } : []
            case .filter: []
            }
        })
    }
}
