/// Groups the tests of one value in a chain of alternatives.
///
/// In `host a or host b` the tests run src=a, dst=a, src=b, dst=b: every test's true arm goes to
/// the same place, so their order does not change the verdict of a whole packet. Pulling
/// `src=b` up behind `src=a` lets it reuse the loaded field, and the two tests of `dst` then
/// meet as well — the order libpcap's optimizer produces. The same holds for a chain of
/// conjuncts whose false arms all meet (`and`).
///
/// The block in front of the chain may go anywhere with its other arm; it only has to hold the
/// value the pulled test reads. A test is pulled up only when its block does nothing but compute
/// the tested value and the blocks it jumps over are entered from the chain alone. When the block
/// after it reads the tested value from A, which the block before does not leave there, that
/// block loads it again first (libpcap's keeps its own load until constants fold).
enum ChainReordering {
    static func run(_ graph: inout FlowGraph) -> Bool {
        var changed = false
        while graph.pullBudget > 0 {
            guard pullSome(&graph) else { break }
            changed = true
        }
        return changed
    }

    /// Pulls up every test it finds whose blocks no earlier pull of this call touched (the
    /// analysis still describes those); false when there was none.
    static func pullSome(_ graph: inout FlowGraph) -> Bool {
        var unchanged = false
        let flow = graph.valueFlow(changed: &unchanged)
        let liveness = graph.liveness(order: flow.order)
        let analysed = graph.blocks.count
        var touched = Set<BlockID>()
        func fresh(_ id: BlockID) -> Bool { id < analysed && !touched.contains(id) }
        for head in flow.order where fresh(head) && graph.pullBudget > 0 {
            guard case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[head].terminator, ifTrue != ifFalse,
                  let value = flow.exitState[head].a else { continue }
            headSearch: for first in [ifTrue, ifFalse] where fresh(first) {
                // Alternatives: walk the false arms, the true arms meet. Conjuncts: the reverse.
                for alongTrue in [false, true] {
                    guard case let .branch(_, _, t, f) = graph.blocks[first].terminator else { continue }
                    let shared = alongTrue ? f : t
                    var chain: [BlockID] = []
                    var previous = head
                    var current = first
                    for _ in 0..<analysed {
                        guard current != head, current != previous, fresh(current),
                              case let .branch(_, operand, t, f) = graph.blocks[current].terminator, t != f else { break }
                        let (meets, next) = alongTrue ? (f, t) : (t, f)
                        guard meets == shared else { break }
                        if flow.exitState[current].a == value {
                            // The tests of the value that follow without statements of their
                            // own (their loads were found redundant) come along as one run.
                            var run = [current]
                            var after = next
                            while run.count < analysed, after != head, fresh(after),
                                  case let .branch(_, operand, t, f) = graph.blocks[after].terminator, t != f,
                                  case .constant = operand, (alongTrue ? f : t) == shared,
                                  flow.exitState[after].a == value, graph.blocks[after].statements.isEmpty,
                                  flow.predecessors[after] == [run[run.count - 1]] {
                                run.append(after)
                                after = alongTrue ? t : f
                            }
                            let entries = Set(flow.predecessors[first])
                            // As libpcap's pull-up: the chain's first block dominates the
                            // pulled one (every way into it comes through the chain).
                            guard let last = chain.last, case .constant = operand, after < analysed,
                                  entries.allSatisfy(fresh), flow.predecessors[current].allSatisfy(chain.contains),
                                  graph.blocks[current].statements.allSatisfy({ $0.definition == .a }) else { break }
                            // The block after the run reads A: the chain's last block must leave
                            // the same value there, or the block gets its load back — every way
                            // into it brings that value, so the load changes nothing for them
                            // (libpcap's first stage keeps that block's own load, which ours
                            // dropped as redundant).
                            var reload: Statement? = nil
                            if liveness.liveIn[after].contains(.a), flow.exitState[last].a != value {
                                guard flow.entryState[after].a == value,
                                      let load = load(of: value, xHolding: flow.entryState[after].x, flow.table) else { break }
                                reload = load
                            }
                            pull(run, after: entries, chain: chain, next: after, alongTrue: alongTrue, &graph)
                            if let reload { graph.blocks[after].statements.insert(reload, at: 0) }
                            graph.pullBudget -= 1
                            touched.formUnion(run + chain + entries + [first, after])
                            break headSearch
                        }
                        // The chain's first block may be entered from several blocks, as
                        // long as all of them hold the value; the others only from the chain.
                        let entries = flow.predecessors[current]
                        guard current == first ? entries.allSatisfy({ flow.exitState[$0].a == value })
                                               : entries == [previous] else { break }
                        chain.append(current)
                        previous = current
                        current = next
                    }
                }
            }
        }
        return !touched.isEmpty
    }

    /// Puts copies of the `run`'s blocks between `entries` and the chain,
    /// and lets the chain's last block continue where the run would.
    static func pull(_ run: [BlockID], after entries: Set<BlockID>, chain: [BlockID], next: BlockID, alongTrue: Bool,
                     _ graph: inout FlowGraph) {
        guard let first = chain.first, let last = chain.last else { return }
        let start = graph.blocks.count
        for (index, pulled) in run.enumerated() {
            guard case let .branch(condition, operand, t, f) = graph.blocks[pulled].terminator else { return }
            let onward = index + 1 < run.count ? start + index + 1 : first
            let terminator: Terminator = alongTrue
                ? .branch(condition, operand, ifTrue: onward, ifFalse: f)
                : .branch(condition, operand, ifTrue: t, ifFalse: onward)
            graph.foldedTests[start + index] = graph.foldedTests[pulled]
            // The statements come along: a load of the value A already holds goes again when
            // value numbering meets it, arithmetic stays, as in libpcap's pulled blocks
            // (`net 10.0.0.0/8 or net 3` tests `ld [26]; and #0xff000000` twice).
            graph.blocks.append(Block(statements: recomputation(graph.blocks[pulled].statements), terminator: terminator))
        }
        for entry in entries { graph.blocks[entry].retarget { $0 == first ? start : $0 } }
        graph.blocks[last].retargetArm(alongTrue: alongTrue, to: next)
    }

    /// The one statement that puts `value` in A: `BranchFolding.loadOf`'s, or an indexed load
    /// whose index X holds.
    static func load(of value: ValueNumber, xHolding x: ValueNumber?, _ table: ValueTable) -> Statement? {
        if case let .packetIndexed(width, offset, index) = table.expression(value) {
            return index == x ? .loadPacketIndexed(width, offset: offset) : nil
        }
        return BranchFolding.loadOf(value, table)
    }

    /// `statements` when they compute the tested value afresh — a load, then arithmetic with
    /// constants — else none (the value is in A where the copy goes; statements that read what
    /// A held before could not run twice).
    static func recomputation(_ statements: [Statement]) -> [Statement] {
        guard let first = statements.first, first.uses == LocationSet(),
              statements.allSatisfy({ $0.uses.subtracting(.a) == LocationSet() }) else { return [] }
        return statements
    }
}

extension Block {
    /// Points the true (or false) arm of a branch elsewhere.
    mutating func retargetArm(alongTrue: Bool, to target: BlockID) {
        guard case let .branch(condition, operand, ifTrue, ifFalse) = terminator else { return }
        terminator = alongTrue
            ? .branch(condition, operand, ifTrue: target, ifFalse: ifFalse)
            : .branch(condition, operand, ifTrue: ifTrue, ifFalse: target)
    }
}
