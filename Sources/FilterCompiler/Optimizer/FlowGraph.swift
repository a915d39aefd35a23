/// The program being optimized, with the graph questions the passes ask: which blocks run,
/// in what order to visit them, who jumps where.
struct FlowGraph {
    var blocks: [Block]
    var entry: BlockID
    /// Value numbers stay the same for the whole optimization, so facts can outlive a round.
    var values = ValueTable()
    /// Branches a peephole rewrote (`sub #k; jeq #0` → `jeq #k`) keep the identity of the test
    /// they were: libpcap's optimizer lets such a test decide only the same rewritten test, and
    /// be decided only by it, never by a plain `jeq #k` of the same field.
    var foldedTests: [BlockID: FoldedTest] = [:]
    /// How many more tests the chain reordering may pull up: each pull adds blocks, so a
    /// budget (the program's size) keeps an odd graph from growing it without end.
    var pullBudget = 0
    /// Whether arithmetic on constants is folded into constants. libpcap's optimizer first
    /// moves branches without rewriting statements (a constant reaches a test only when loaded
    /// as one: `ld #k`, a scratch slot holding one), then rewrites statements and folds constants
    /// but moves no branch; a test it decides only then stays in the program. Off for the first
    /// stage, on for the second.
    var foldsConstants = false
    /// Why libpcap's optimizer would refuse this program (a constant division by zero, a shift
    /// by more than 31 bits), found while constants fold.
    var refusal: String?
    /// The last analyses, kept for a pass that asks again before the graph changed.
    var analyses = Analyses()

    /// Nil when a block names a successor that does not exist: such a program is returned
    /// untouched rather than guessed at.
    init?(_ program: FilterProgram) {
        let count = program.blocks.count
        guard program.entry >= 0, program.entry < count else { return nil }
        for block in program.blocks {
            for successor in block.successors where successor < 0 || successor >= count { return nil }
            for statement in block.statements {
                switch statement {
                case let .loadScratch(slot), let .loadXScratch(slot), let .storeA(slot), let .storeX(slot):
                    if slot < 0 || slot >= FilterProgram.scratchSlots { return nil }
                default: break
                }
            }
        }
        blocks = program.blocks
        entry = program.entry
        pullBudget = program.blocks.count
    }

    /// The reachable blocks only, renumbered in their original order.
    var program: FilterProgram {
        let order = reachable.enumerated().filter { $0.element }.map(\.offset)
        var newID = [BlockID](repeating: -1, count: blocks.count)
        for (index, id) in order.enumerated() { newID[id] = index }
        let renumbered = order.map { id -> Block in
            var block = blocks[id]
            block.retarget { newID[$0] }
            return block
        }
        return FilterProgram(blocks: renumbered, entry: newID[entry])
    }

    var reachable: [Bool] {
        var seen = [Bool](repeating: false, count: blocks.count)
        var stack = [entry]
        seen[entry] = true
        while let id = stack.popLast() {
            for next in blocks[id].successors where !seen[next] {
                seen[next] = true
                stack.append(next)
            }
        }
        return seen
    }

    /// Reachable blocks so that every block comes after the blocks that jump to it, except
    /// over a loop's back edge.
    func reversePostorder() -> [BlockID] {
        var visited = [Bool](repeating: false, count: blocks.count)
        var postorder: [BlockID] = []
        postorder.reserveCapacity(blocks.count)
        // Iterative depth-first search: (block, index of the next successor to look at).
        var stack: [(BlockID, Int)] = [(entry, 0)]
        visited[entry] = true
        while let (id, next) = stack.popLast() {
            let successors = blocks[id].successors
            if next < successors.count {
                let successor = successors[next]
                stack.append((id, next + 1))
                if !visited[successor] {
                    visited[successor] = true
                    stack.append((successor, 0))
                }
            } else {
                postorder.append(id)
            }
        }
        postorder.reverse()
        return postorder
    }

    /// Whether some reachable block can reach itself.
    var hasCycle: Bool {
        // 0: not seen, 1: on the current path, 2: done.
        var state = [UInt8](repeating: 0, count: blocks.count)
        var stack: [(BlockID, Int)] = [(entry, 0)]
        state[entry] = 1
        while let (id, next) = stack.popLast() {
            let successors = blocks[id].successors
            if next < successors.count {
                let successor = successors[next]
                stack.append((id, next + 1))
                if state[successor] == 1 { return true }
                if state[successor] == 0 {
                    state[successor] = 1
                    stack.append((successor, 0))
                }
            } else {
                state[id] = 2
            }
        }
        return false
    }

    /// For every block, the blocks with an edge to it (once per edge), counting reachable
    /// blocks only.
    func predecessors(of order: [BlockID]) -> Predecessors {
        Predecessors(self, order: order)
    }
}

/// The blocks with an edge to each block (once per edge), in the order of the walk that found
/// them: one flat array for the whole graph rather than an array per block.
struct Predecessors {
    /// Where each block's predecessors start in `sources`; one extra entry for the end.
    private var start: [Int]
    private var sources: [BlockID]

    init(_ graph: FlowGraph, order: [BlockID]) {
        let count = graph.blocks.count
        // Edges into each block, summed up to where each block's list ends; then the lists are
        // filled from the back, which leaves `start` at where each one begins.
        var start = [Int](repeating: 0, count: count + 1)
        for id in order {
            for successor in graph.blocks[id].successors { start[successor] += 1 }
        }
        for index in 1..<max(count, 1) { start[index] += start[index - 1] }
        start[count] = count > 0 ? start[count - 1] : 0
        var sources = [BlockID](repeating: 0, count: start[count])
        for id in order.reversed() {
            for successor in graph.blocks[id].successors.reversed() {
                start[successor] -= 1
                sources[start[successor]] = id
            }
        }
        self.start = start
        self.sources = sources
    }

    subscript(block: BlockID) -> ArraySlice<BlockID> { sources[start[block]..<start[block + 1]] }
}

extension Block {
    /// Renames the successors.
    mutating func retarget(_ rename: (BlockID) -> BlockID) {
        switch terminator {
        case let .branch(condition, operand, ifTrue, ifFalse):
            terminator = .branch(condition, operand, ifTrue: rename(ifTrue), ifFalse: rename(ifFalse))
        case let .jump(target):
            terminator = .jump(rename(target))
        case .verdict:
            break
        }
    }

    var isVerdict: Bool {
        if case .verdict = terminator { return statements.isEmpty }
        return false
    }

    /// Where control goes next no matter what A holds, when that is so.
    var onlySuccessor: BlockID? {
        switch terminator {
        case let .branch(_, _, ifTrue, ifFalse) where ifTrue == ifFalse: return ifTrue
        case let .jump(target): return target
        default: return nil
        }
    }
}
