/// Reshaping the graph without looking at what the statements compute.
extension FlowGraph {
    /// Bypasses detours and folds a block into the one place it always continues at. Returns
    /// whether anything changed. (Identical blocks are shared only once the rounds are over, as
    /// libpcap does: a test whose arms become one block by that sharing stays, with its loads.)
    mutating func simplify() -> Bool {
        var changed = bypassEmptyBlocks()
        changed = absorbSoleSuccessors() || changed
        return changed
    }

    /// An empty block that continues at one place whatever A holds is a detour: jump past it.
    mutating func bypassEmptyBlocks() -> Bool {
        let blocks = self.blocks
        let limit = blocks.count
        func destination(_ start: BlockID) -> BlockID {
            var current = start
            var steps = 0
            while steps < limit, blocks[current].statements.isEmpty,
                  let next = blocks[current].onlySuccessor, next != current {
                current = next
                steps += 1
            }
            return current
        }
        return redirect(destination)
    }

    /// Renames every edge of every reachable block (and the entry); returns whether one moved.
    mutating func redirect(_ rename: (BlockID) -> BlockID) -> Bool {
        var changed = false
        let newEntry = rename(entry)
        if newEntry != entry { entry = newEntry; changed = true }
        for (id, isReachable) in reachable.enumerated() where isReachable {
            let before = blocks[id].terminator
            blocks[id].retarget(rename)
            if blocks[id].terminator != before { changed = true }
        }
        return changed
    }

    /// A block whose only way on leads to a block nobody else enters takes that block's
    /// statements and ending (unless that block is a bare verdict).
    mutating func absorbSoleSuccessors() -> Bool {
        var changed = false
        let order = reversePostorder()
        let predecessors = predecessors(of: order)
        var absorbed = [Bool](repeating: false, count: blocks.count)
        // The entry keeps its own statements apart until the end (`startPastIdleTests`).
        for id in order where !absorbed[id] && id != entry {
            // A verdict is not pulled up: a decided test of a constant stays in front of it.
            guard let next = blocks[id].onlySuccessor, next != id, next != entry, !absorbed[next],
                  !blocks[next].isVerdict,
                  predecessors[next].allSatisfy({ $0 == id }) else { continue }
            blocks[id].statements += blocks[next].statements
            blocks[id].terminator = blocks[next].terminator
            foldedTests[id] = foldedTests[next]
            absorbed[next] = true
            changed = true
        }
        return changed
    }

    /// Blocks with the same statements and the same ending behave the same: keep one, the
    /// first in the program. Blocks whose successors are shared become the same in turn, so one
    /// walk from the verdicts up finds them all: a block is named by its statements, its
    /// rewritten-test identity (blocks are one only when those agree too, as the identity names
    /// the value it tests, which the block's code alone does not) and its ending, with each
    /// successor named by the kind of block it is.
    mutating func shareIdenticalBlocks() -> Bool {
        struct Kind: Hashable {
            var statements: [Statement]
            var terminator: Terminator
            var folded: FoldedTest?
        }
        let order = reversePostorder()
        // Each block's kind, numbered by the first block of the kind met on the walk; a
        // successor not yet met (only over a loop's back edge) stands for itself.
        var kind = Array(blocks.indices)
        var kinds: [Kind: BlockID] = [:]
        kinds.reserveCapacity(order.count)
        var first = Array(blocks.indices)  // the lowest-numbered block of each kind
        for id in order.reversed() {
            var block = blocks[id]
            block.retarget { kind[$0] }
            let key = Kind(statements: block.statements, terminator: block.terminator, folded: foldedTests[id])
            if let existing = kinds[key] {
                kind[id] = existing
                first[existing] = min(first[existing], id)
            } else {
                kinds[key] = id
            }
        }
        guard kinds.count < order.count else { return false }
        return redirect { first[kind[$0]] }
    }

    /// While the first block's test goes the same way either way, start at the block it leads
    /// to, running the skipped blocks' statements first — unless the program then just
    /// returns, and the statements are moot. (libpcap does the same once its optimizer is done,
    /// and keeps those statements even when their values go unused: a load in them still
    /// rejects a packet too short for it.)
    mutating func startPastIdleTests() {
        var carried: [Statement] = []
        var steps = 0
        while steps < blocks.count, let next = blocks[entry].onlySuccessor, next != entry {
            carried += blocks[entry].statements
            entry = next
            steps += 1
        }
        guard !carried.isEmpty else { return }
        if case .verdict = blocks[entry].terminator {
            blocks[entry].statements = []
        } else {
            blocks[entry].statements = carried + blocks[entry].statements
        }
    }
}
