/// Groups the tests of one value in a chain of alternatives.
///
/// In `host a or host b` the tests run src=a, dst=a, src=b, dst=b: every test's true arm goes to
/// the same place, so their order does not change the verdict of a whole packet. Pulling
/// `src=b` up behind `src=a` lets it reuse the loaded field, and the two tests of `dst` then
/// meet as well — the order libpcap's optimizer produces. The same holds for a chain of
/// conjuncts whose false arms all meet (`and`).
///
/// The block in front of the chain may go anywhere with its other arm; it only has to hold the
/// value the pulled test reads. A test is pulled up only when its block does nothing but compute the tested value, the
/// blocks it jumps over are entered from the chain alone, and the block after it reads nothing
/// the pulled block leaves behind that the block before does not.
enum ChainReordering {
    static func run(_ graph: inout FlowGraph) -> Bool {
        var changed = false
        for _ in 0..<graph.blocks.count {
            guard pullOne(&graph) else { break }
            changed = true
        }
        return changed
    }

    /// Finds one test to pull up and pulls it; false when there is none.
    static func pullOne(_ graph: inout FlowGraph) -> Bool {
        var unchanged = false
        let flow = ValueFlow(rewriting: &graph, changed: &unchanged)
        let liveness = Liveness(graph, order: flow.order)
        for head in flow.order {
            guard case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[head].terminator, ifTrue != ifFalse,
                  let value = flow.tests[head]?.a else { continue }
            for first in [ifTrue, ifFalse] {
                // Alternatives: walk the false arms, the true arms meet. Conjuncts: the reverse.
                for alongTrue in [false, true] {
                    guard case let .branch(_, _, t, f) = graph.blocks[first].terminator else { continue }
                    let shared = alongTrue ? f : t
                    var chain: [BlockID] = []
                    var previous = head
                    var current = first
                    for _ in 0..<graph.blocks.count {
                        guard current != head, current != previous,
                              case let .branch(_, operand, t, f) = graph.blocks[current].terminator, t != f else { break }
                        let (meets, next) = alongTrue ? (f, t) : (t, f)
                        guard meets == shared else { break }
                        if flow.tests[current]?.a == value {
                            guard let last = chain.last, case .constant = operand,
                                  graph.blocks[current].statements.allSatisfy({ $0.definition == .a }),
                                  !liveness.liveIn[next].contains(.a) || flow.exitState[last].a == value else { break }
                            pull(current, after: Set(flow.predecessors[first]), chain: chain, next: next, alongTrue: alongTrue, &graph)
                            return true
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
        return false
    }

    /// Puts a copy of `pulled`'s test (without its statements) between `entries` and the chain,
    /// and lets the chain's last block continue where `pulled` would.
    static func pull(_ pulled: BlockID, after entries: Set<BlockID>, chain: [BlockID], next: BlockID, alongTrue: Bool,
                     _ graph: inout FlowGraph) {
        guard case let .branch(condition, operand, t, f) = graph.blocks[pulled].terminator, let first = chain.first,
              let last = chain.last else { return }
        let copy = graph.blocks.count
        let terminator: Terminator = alongTrue
            ? .branch(condition, operand, ifTrue: first, ifFalse: f)
            : .branch(condition, operand, ifTrue: t, ifFalse: first)
        graph.blocks.append(Block(statements: [], terminator: terminator))
        graph.foldedTests[copy] = graph.foldedTests[pulled]
        for entry in entries { graph.blocks[entry].retarget { $0 == first ? copy : $0 } }
        graph.blocks[last].retargetArm(alongTrue: alongTrue, to: next)
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
