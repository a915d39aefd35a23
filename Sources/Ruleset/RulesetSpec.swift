import EBPF

/// What a ruleset compiles to, computed once per command and used by every step after it: which
/// rules the packet classifiers take (and why the others do not), the segments (filters, lookup
/// groups, classifiers) in rule order, and the counter layout. From it come, for a hook, the
/// lookup and classifier tables and the programs, split into chunks by a verifier budget: the
/// load retries with a smaller budget without placing or compiling the rules again, and
/// `check` and `bench` report the placement the loaded program has.
public struct RulesetSpec: Sendable {
    public let ruleset: Ruleset
    /// Where the rules go: into classifiers, or why not.
    public let placement: ClassifierPlacement
    /// The rules in order as filters, lookup groups and classifiers.
    public let segments: [RulesetSegment]

    /// `minimumRun`: see `Ruleset.segments(minimumRun:keepingHashedLengths:)`.
    public init(_ ruleset: Ruleset, minimumRun: Int? = nil, keepingHashedLengths: [MapName: [Int]]? = nil) {
        self.ruleset = ruleset
        let candidates = ruleset.classifierCandidates(minimumRun: minimumRun)
        let classifiers = ruleset.classifierParts(classifiable: candidates.map { $0 == nil })
        placement = ruleset.classifierPlacement(candidates: candidates, classifiers: classifiers)
        segments = ruleset.segments(classifiers: classifiers, minimumRun: minimumRun, keepingHashedLengths: keepingHashedLengths)
    }

    /// Counter slots: the policy's (0), then one per rule (`Ruleset.counterSlot(ofRuleIndex:)`).
    public var counterSlots: Int { ruleset.counterSlots }

    /// The tables (with their contents) the program for `hook` looks rules up in, those of one
    /// name put together; each is pinned as its name's `pinEntry`.
    public func lookupTables(for hook: any HookContext) -> [LookupTable] {
        Ruleset.lookupTables(segments: segments, hook: hook)
    }

    /// The programs `apply` loads at `hook`: one when the ruleset fits in one, else chunks
    /// chained by tail calls through `MapName.chunks`; the first is the one attached.
    /// `logging`: with the drop log's code.
    public func chunks(for hook: any HookContext, budget: ChunkBudget = .verifier, logging: Bool = true) throws(AssemblerError) -> [RulesetChunk] {
        try EBPFRulesetProgram.generateChunks(segments: segments, policy: ruleset.policy, hook: hook,
                                              log: logging ? Ruleset.logMaps : nil, budget: budget)
    }
}
