/// A ruleset too big for the verifier as one program, split into programs ("chunks") chained by
/// tail calls.
///
/// The verifier walks a program depth first: at each conditional jump it follows one way and
/// keeps the other to come back to, and it refuses a program once 8,192 such branches are
/// pending ("the sequence of 8193 jumps is too complex") or it has walked 1,000,000
/// instructions. Along the path of a packet no rule matches, the branches of every rule before
/// pile up, so a long chain of rules that do not merge into lookups cannot be one program.
///
/// Each chunk holds a contiguous run of segments. When none of its rules matches, it tail-calls
/// the next chunk (`bpf_tail_call` through a BPF_MAP_TYPE_PROG_ARRAY, index = chunk number);
/// the last one applies the policy. A rule that matches is counted and decides in the chunk
/// that holds it. All chunks share the counters map and the lookup tables, so counters and
/// first-match order are exactly those of one program. A ruleset that fits in one program is
/// one program, as before: no tail call, no program array.
public struct RulesetChunk: Sendable {
    /// The program. The first chunk is the one attached at the hook.
    public var instructions: [EBPFInstruction]
    /// The segments (`Ruleset.segments`) it holds.
    public var segments: Range<Int>
    /// Counter slots (rule index + 1) of its first and last rule; nil when it holds none.
    public var ruleSlots: ClosedRange<Int>?
}

/// How much of a ruleset one chunk may hold.
public struct ChunkBudget: Hashable, Sendable {
    /// Branches the verifier may keep pending at once (its limit is 8,192), estimated as the
    /// sum over the chunk's segments of those pending on the way it follows first through each
    /// (`Assembler.branchesPendingOnFirstWay`), plus the most conditional jumps of one segment
    /// (all of which may be pending while it walks that segment).
    public var pendingBranches: Int
    /// Instructions the verifier walks (its limit is 1,000,000), estimated as 1.6 per
    /// instruction (measured: 1.45 to 1.6 for long rulesets) and 4,500 per bounded loop.
    public var walkedInstructions: Int

    public init(pendingBranches: Int, walkedInstructions: Int) {
        self.pendingBranches = pendingBranches
        self.walkedInstructions = walkedInstructions
    }

    /// What this kernel's verifier accepts with room to spare: the estimates fall short of what
    /// it counts by up to a third for some rules (docs/design-ebpf.md, "Big rulesets"). 5,400
    /// pending branches fit 100,000 mixed random rules in 31 programs.
    public static let verifier = ChunkBudget(pendingBranches: 5_400, walkedInstructions: 600_000)

    /// The estimated walk of `code`.
    static func walk(_ code: Assembler) -> Int { code.count * 8 / 5 + code.loopCount * 4_500 }
}

extension EBPFRulesetProgram {
    /// The most programs one packet can run through: the attached one and 33 tail calls
    /// (the kernel's MAX_TAIL_CALL_CNT).
    public static let maximumChunks = 34

    /// The ruleset as programs chained by tail calls through the program array `chunkMap`
    /// (entry i = chunk i), each within `budget`; one program (no tail call) when it fits.
    public static func generateChunks(segments: [RulesetSegment], policy: Verdict, hook: any HookContext,
                                      counterMap: MapName = .counters, chunkMap: MapName = .chunks, log: PacketLogMaps? = nil,
                                      budget: ChunkBudget = .verifier) throws(AssemblerError) -> [RulesetChunk] {
        let ranges = chunkRanges(segments: segments, hook: hook, budget: budget)
        guard ranges.count <= maximumChunks else {
            throw AssemblerError("the rules need \(ranges.count) programs chained by tail calls, and the kernel runs at most "
                                 + "\(maximumChunks) for a packet; merge rules into lookups (see docs/design-rule-merging.md) "
                                 + "or use fewer rules")
        }
        var chunks: [RulesetChunk] = []
        for (number, range) in ranges.enumerated() {
            let link: ChainLink
            if ranges.count == 1 {
                link = .alone
            } else if number == 0 {
                link = .first(next: (chunkMap, 1))
            } else {
                link = .continuation(next: number + 1 < ranges.count ? (chunkMap, number + 1) : nil)
            }
            let instructions = try generate(segments: segments, range: range, link: link, policy: policy,
                                            hook: hook, counterMap: counterMap, log: log)
            let slots = segments[range].flatMap(\.counterSlots)
            chunks.append(RulesetChunk(instructions: instructions, segments: range,
                                       ruleSlots: slots.min().flatMap { low in slots.max().map { low...$0 } }))
        }
        return chunks
    }

    /// Greedy split: each chunk takes segments while they fit in the budget (at least one).
    static func chunkRanges(segments: [RulesetSegment], hook: any HookContext, budget: ChunkBudget) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0, pending = 0, widest = 0, size = 0
        // The classifiers evaluated in the chunk so far: their later parts there cost a compare.
        var evaluated: Set<Int> = []
        func cost(_ segment: RulesetSegment, index: Int, evaluating: Bool) -> (jumps: Int, onFirstWay: Int, walk: Int) {
            var scratch = Assembler()
            let next = scratch.newLabel("segment\(index + 1)"), count = scratch.newLabel("count")
            emit(segment, index: index, hook: hook, evaluating: evaluating, next: next, count: count, into: &scratch)
            let jumps = scratch.conditionalJumpCount
            // A classifier's scan loop is walked once per word, each with a pending branch.
            let scanned = if evaluating || segment.isWholeClassifier, case let .classifier(classifier, _) = segment { classifier.scanSteps } else { 0 }
            let onFirstWay = (scratch.branchesPendingOnFirstWay(to: [next, count]) ?? jumps) + scanned
            return (jumps, onFirstWay, ChunkBudget.walk(scratch) + scanned * ClassifierEmitter.walkedPerStep)
        }
        for (index, segment) in segments.enumerated() {
            let classifier = segment.classifierNumber
            var (jumps, onFirstWay, walk) = cost(segment, index: index, evaluating: classifier.map { !evaluated.contains($0) } ?? false)
            if index > start && (pending + onFirstWay + max(widest, jumps) > budget.pendingBranches
                                 || size + walk > budget.walkedInstructions) {
                ranges.append(start..<index)
                (start, pending, widest, size) = (index, 0, 0, 0)
                evaluated = []
                if classifier != nil { (jumps, onFirstWay, walk) = cost(segment, index: index, evaluating: true) }
            }
            if let classifier { evaluated.insert(classifier) }
            pending += onFirstWay
            widest = max(widest, jumps)
            size += walk
        }
        ranges.append(start..<segments.count)
        return ranges
    }
}

extension RulesetSegment {
    /// The counter slots of the rules in it.
    var counterSlots: [Int] {
        switch self {
        case let .filter(_, _, slot): [slot]
        case let .lookup(group): group.members.map(\.slot)
        case let .classifier(classifier, part): classifier.entries.map(\.slot).filter { part.slots.contains($0) }
        }
    }

    /// A classifier all of whose rules stand in one place (evaluated where it stands).
    var isWholeClassifier: Bool {
        if case let .classifier(_, part) = self { part.count == 1 } else { false }
    }
}

/// Where a program stands in a ruleset's chain of programs.
enum ChainLink {
    /// The whole ruleset.
    case alone
    /// The attached program: the full prologue, then its state handed on to `next`.
    case first(next: (map: MapName, index: Int))
    /// A tail-called program: the state taken over, then on to `next` (nil: the last one).
    case continuation(next: (map: MapName, index: Int)?)

    var next: (map: MapName, index: Int)? {
        switch self {
        case .alone: nil
        case let .first(next): next
        case let .continuation(next): next
        }
    }
}

/// What the programs of a chain hand on: the stack does not survive a tail call, the context
/// does. Only a hook that moves a metadata VLAN tag inline has anything to hand on (the tag on
/// entry and whether it was moved): the first program writes it to the context's
/// `chainStateOffset` word (present | moved << 1 | TCI << 16), the others read it back into the
/// stack slots the filters and the epilogue use. The frame length and packet pointers are
/// simply read again (`len` after the tag was moved, as the first program saw it).
enum ChainState {
    static func save(hook: any HookContext, into asm: inout Assembler) {
        guard let vlan = hook.metadataVLAN else { return }
        let layout = MachineLayout.self
        asm.load(.word, .r2, from: .r10, offset: layout.vlanPresentSlot)
        asm.load(.word, .r3, from: .r10, offset: layout.vlanTCISlot)
        asm.alu(.shiftLeft, .r3, 16, width: .bits32)
        asm.alu(.or, .r2, .r3, width: .bits32)
        asm.load(.byte, .r3, from: .r10, offset: layout.vlanInlinedSlot)
        asm.alu(.shiftLeft, .r3, 1, width: .bits32)
        asm.alu(.or, .r2, .r3, width: .bits32)
        asm.store(.word, to: layout.context, offset: vlan.chainStateOffset, from: .r2)
    }

    static func restore(hook: any HookContext, into asm: inout Assembler) {
        guard let vlan = hook.metadataVLAN else { return }
        let layout = MachineLayout.self
        asm.saveContext()
        asm.load(.word, .r2, from: layout.context, offset: vlan.chainStateOffset)
        asm.move(.r3, .r2, width: .bits32)
        asm.alu(.and, .r3, 1, width: .bits32)
        asm.store(.word, to: .r10, offset: layout.vlanPresentSlot, from: .r3)
        asm.move(.r3, .r2, width: .bits32)
        asm.alu(.shiftRight, .r3, 16, width: .bits32)
        asm.store(.word, to: .r10, offset: layout.vlanTCISlot, from: .r3)
        asm.store(.double, to: .r10, offset: layout.vlanInlinedWord, immediate: 0)
        asm.alu(.shiftRight, .r2, 1, width: .bits32)
        asm.alu(.and, .r2, 1, width: .bits32)
        asm.store(.byte, to: .r10, offset: layout.vlanInlinedSlot, from: .r2)
    }
}
