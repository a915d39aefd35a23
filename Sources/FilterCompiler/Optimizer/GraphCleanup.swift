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

    /// Blocks with the same statements and the same ending behave the same: keep one.
    mutating func shareIdenticalBlocks() -> Bool {
        var changed = false
        for _ in 0..<blocks.count {
            // A rewritten test's identity names the value it tests, which the block's code
            // alone does not: blocks are one only when their identities agree too.
            // The first block of each kind is found by its ending (cheap to hash), then along
            // the chain of kept blocks that end the same way.
            var latest: [Terminator: BlockID] = [:]
            latest.reserveCapacity(blocks.count)
            var sameEnding = [BlockID](repeating: -1, count: blocks.count)
            var canonical = Array(blocks.indices)
            var found = false
            for (id, isReachable) in reachable.enumerated() where isReachable {
                let ending = blocks[id].terminator
                let newest = latest[ending] ?? -1
                var candidate = newest
                while candidate >= 0, blocks[candidate].statements != blocks[id].statements
                        || foldedTests[candidate] != foldedTests[id] {
                    candidate = sameEnding[candidate]
                }
                if candidate >= 0 {
                    canonical[id] = candidate
                    found = true
                } else {
                    sameEnding[id] = newest
                    latest[ending] = id
                }
            }
            guard found else { break }
            _ = redirect { canonical[$0] }
            changed = true
        }
        return changed
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
