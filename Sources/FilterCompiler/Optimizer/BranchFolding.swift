/// Tests whose outcome is already known where control reaches them.
///
/// Every branch outcome is a fact about the packet (the values are pure functions of it), so a
/// fact learnt on every path to an edge holds on that edge. When the facts on an edge decide the
/// test of the block it enters, the edge can go straight to the arm the test would take —
/// provided the block's statements leave nothing behind that the arm reads, or leave exactly
/// what the edge's source already holds.
enum BranchFolding {

    static func run(_ graph: inout FlowGraph) -> Bool {
        var unchanged = false
        let flow = graph.valueFlow(changed: &unchanged)
        let liveness = graph.liveness(order: flow.order)
        let entryFacts = facts(graph, flow)
        var changed = false

        // A test of a constant: both arms go where the test goes. The block keeps its
        // constant load and its (now idle) comparison, as libpcap's optimizer leaves them.
        for id in flow.order {
            if case let .branch(.bitsSet, .constant(0), ifTrue, ifFalse) = graph.blocks[id].terminator, ifTrue != ifFalse {
                graph.blocks[id].terminator = .branch(.bitsSet, .constant(0), ifTrue: ifFalse, ifFalse: ifFalse)
                changed = true
                continue
            }
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse, let test = flow.tests[id],
                  let outcome = decideByConstants(test, flow.table) else { continue }
            let target = outcome != flow.inverted[id] ? ifTrue : ifFalse
            graph.blocks[id].terminator = .branch(condition, operand, ifTrue: target, ifFalse: target)
            changed = true
        }
        // An edge whose facts decide the test of the block it enters jumps over that block.
        for id in flow.order {
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse else { continue }
            func arm(_ sense: Bool) -> BlockID {
                var known = entryFacts[id]
                known.makeRoom(8)  // one copy, with room for what threading learns
                if let test = flow.tests[id] { known.learn(test, sense != flow.inverted[id], on: BranchArm(id, sense)) }
                return thread(from: id, to: sense ? ifTrue : ifFalse, &known, graph, flow, liveness)
            }
            let (newTrue, newFalse) = (arm(true), arm(false))
            if newTrue != ifTrue || newFalse != ifFalse {
                graph.blocks[id].terminator = .branch(condition, operand, ifTrue: newTrue, ifFalse: newFalse)
                changed = true
            }
        }
        return changed
    }

    /// Follows the edge from `source` into `target` past every block whose test `known` decides,
    /// and returns the furthest block where skipping the blocks in between changes nothing the
    /// block reads.
    static func thread(from source: BlockID, to target: BlockID, _ known: inout Facts, _ graph: FlowGraph,
                       _ flow: ValueFlow, _ liveness: Liveness) -> BlockID {
        var current = target
        var landing = target
        for _ in 0..<graph.blocks.count {
            guard current != source,
                  case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[current].terminator, ifTrue != ifFalse,
                  let test = flow.tests[current],
                  let outcome = decideByFacts(test, known, flow.table) else { break }
            let next = outcome != flow.inverted[current] ? ifTrue : ifFalse
            known.learn(test, outcome, on: BranchArm(current, outcome != flow.inverted[current]))
            if agree(flow.exitState[source], flow.exitState[current], on: liveness.liveIn[next]) { landing = next }
            current = next
        }
        return landing
    }

    /// Whether two states hold the same known values in every location of `locations`.
    static func agree(_ one: MachineState, _ other: MachineState, on locations: LocationSet) -> Bool {
        func same(_ location: Location) -> Bool {
            guard locations.contains(LocationSet(location)) else { return true }
            guard let value = one[location] else { return false }
            return value == other[location]
        }
        guard same(.a), same(.x) else { return false }
        for slot in 0..<FilterProgram.scratchSlots where !same(.scratch(slot)) { return false }
        return true
    }

    /// The outcome of a comparison of two constants.
    static func decideByConstants(_ test: Test, _ table: ValueTable) -> Bool? {
        guard let a = table.constant(test.a), let b = table.constant(test.operand) else { return nil }
        return test.condition.holds(a, b)
    }

    /// The outcome of `test` if the facts known settle it.
    static func decideByFacts(_ test: Test, _ known: Facts, _ table: ValueTable) -> Bool? {
        if let outcome = known[test] { return outcome }
        // A value equal to one constant differs from every other.
        if test.condition == .equal, let k = table.constant(test.operand) {
            let differs = known.contains { fact, holds in
                holds && fact.condition == .equal && fact.a == test.a && fact.rewritten == test.rewritten
                    && table.constant(fact.operand).map { $0 != k } == true
            }
            if differs { return false }
        }
        return nil
    }

    /// The facts that hold on entry to each reachable block: those holding on every edge into
    /// it. Nothing is assumed over a loop's back edge.
    static func facts(_ graph: FlowGraph, _ flow: ValueFlow) -> [Facts] {
        var result = [Facts](repeating: Facts(), count: graph.blocks.count)
        var visited = [Bool](repeating: false, count: graph.blocks.count)
        for id in flow.order {
            defer { visited[id] = true }
            let incoming = flow.predecessors[id]
            guard id != graph.entry, !incoming.isEmpty, incoming.allSatisfy({ visited[$0] }) else { continue }
            var common: Facts? = nil
            // Each predecessor once, however many of its edges come here.
            for (index, predecessor) in incoming.enumerated() where !incoming.prefix(index).contains(predecessor) {
                outgoingFacts(predecessor, into: id, graph, flow, result) { base, learnt in
                    if common == nil {
                        var known = base
                        if let learnt { known.learn(learnt.test, learnt.holds, on: learnt.edge) }
                        common = known
                    } else {
                        common?.formCommon(with: base, plus: learnt)
                    }
                }
            }
            result[id] = common ?? Facts()
        }
        return result
    }

    /// The facts on each edge from `predecessor` into `id`, given to `body` one edge at a time
    /// without building them: those known on entry to `predecessor`, and what its test teaches
    /// on that edge (when it has a test).
    static func outgoingFacts(_ predecessor: BlockID, into id: BlockID, _ graph: FlowGraph,
                              _ flow: ValueFlow, _ entryFacts: [Facts], _ body: (Facts, Fact?) -> Void) {
        let base = entryFacts[predecessor]
        guard case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[predecessor].terminator,
              let test = flow.tests[predecessor] else { return body(base, nil) }
        for sense in [true, false] where (sense ? ifTrue : ifFalse) == id {
            body(base, Fact(test: test, holds: sense != flow.inverted[predecessor], edge: BranchArm(predecessor, sense)))
        }
    }
}

/// A test's outcome and the branch arm that taught it.
struct Fact {
    var test: Test
    var holds: Bool
    var edge: BranchArm
}

/// Known outcomes of tests, each with the branch arm that taught it. Where paths meet, a fact
/// survives only if every path took that same arm — the arm dominates the meeting point, which
/// is how far libpcap's optimizer carries what it knows. (The same test learnt on different
/// arms of different paths would be true too, but libpcap does not use it, and a program it
/// keeps must stay as long as libpcap's.) A handful at a time, so a plain list beats hashing.
struct Facts {
    private var entries: [Fact] = []

    subscript(test: Test) -> Bool? {
        for entry in entries where entry.test == test { return entry.holds }
        return nil
    }

    /// Makes the list its own, with room for `extra` more facts.
    mutating func makeRoom(_ extra: Int) {
        entries.reserveCapacity(entries.count + extra)
    }

    mutating func learn(_ test: Test, _ holds: Bool, on edge: BranchArm) {
        if !entries.contains(where: { $0.test == test && $0.edge == edge }) { entries.append(Fact(test: test, holds: holds, edge: edge)) }
    }

    /// Keeps the facts that `other`, with `learnt` added, learnt on the same arms too — in
    /// place, without building that list.
    mutating func formCommon(with other: Facts, plus learnt: Fact?) {
        entries.removeAll { entry in
            if let learnt, learnt.test == entry.test, learnt.edge == entry.edge { return false }
            return !other.entries.contains { $0.test == entry.test && $0.edge == entry.edge }
        }
    }

    func contains(where predicate: (Test, Bool) -> Bool) -> Bool {
        entries.contains { predicate($0.test, $0.holds) }
    }
}
