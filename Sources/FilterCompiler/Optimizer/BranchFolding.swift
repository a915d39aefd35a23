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
        var flow = graph.valueFlow(changed: &unchanged)
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
            let arms = [true, false].map { sense -> BlockID in
                var known = entryFacts[id]
                if let test = flow.tests[id] { known.learn(test, sense != flow.inverted[id], on: Edge(id, sense)) }
                return thread(from: id, to: sense ? ifTrue : ifFalse, known, graph, &flow, liveness)
            }
            if arms != [ifTrue, ifFalse] {
                graph.blocks[id].terminator = .branch(condition, operand, ifTrue: arms[0], ifFalse: arms[1])
                changed = true
            }
        }
        return changed
    }

    /// Follows the edge from `source` into `target` past every block whose test `known` decides,
    /// and returns the furthest block where skipping the blocks in between changes nothing the
    /// block reads.
    static func thread(from source: BlockID, to target: BlockID, _ known: Facts, _ graph: FlowGraph,
                       _ flow: inout ValueFlow, _ liveness: Liveness) -> BlockID {
        var current = target
        var landing = target
        var known = known
        for _ in 0..<graph.blocks.count {
            guard current != source,
                  case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[current].terminator, ifTrue != ifFalse,
                  let test = flow.tests[current],
                  let outcome = decideByFacts(test, known, flow.table) else { break }
            let next = outcome != flow.inverted[current] ? ifTrue : ifFalse
            known.learn(test, outcome, on: Edge(current, outcome != flow.inverted[current]))
            if agree(flow.exitState[source], flow.exitState[current], on: liveness.liveIn[next]) { landing = next }
            current = next
        }
        return landing
    }

    /// Whether two states hold the same known values in every location of `locations`.
    static func agree(_ one: MachineState, _ other: MachineState, on locations: LocationSet) -> Bool {
        let all: [Location] = [.a, .x] + (0..<FilterProgram.scratchSlots).map { .scratch($0) }
        for location in all where locations.contains(LocationSet(location)) {
            guard let value = one[location], value == other[location] else { return false }
        }
        return true
    }

    /// The outcome of a comparison of two constants.
    static func decideByConstants(_ test: Test, _ table: ValueTable) -> Bool? {
        guard let a = table.constant(test.a), let b = table.constant(test.operand) else { return nil }
        return evaluate(test.condition, a, b)
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
            for predecessor in Set(incoming) {
                for edgeFacts in outgoingFacts(predecessor, into: id, graph, flow, result) {
                    common = common.map { $0.common(with: edgeFacts) } ?? edgeFacts
                }
            }
            result[id] = common ?? Facts()
        }
        return result
    }

    /// The facts on each edge from `predecessor` into `id`.
    static func outgoingFacts(_ predecessor: BlockID, into id: BlockID, _ graph: FlowGraph,
                              _ flow: ValueFlow, _ entryFacts: [Facts]) -> [Facts] {
        let base = entryFacts[predecessor]
        guard case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[predecessor].terminator,
              let test = flow.tests[predecessor] else { return [base] }
        var edges: [Facts] = []
        for (sense, target) in [(true, ifTrue), (false, ifFalse)] where target == id {
            var known = base
            known.learn(test, sense != flow.inverted[predecessor], on: Edge(predecessor, sense))
            edges.append(known)
        }
        return edges
    }
}

/// Known outcomes of tests. A handful at a time, so a plain list beats hashing.
/// A branch arm: the block and whether it is the true arm.
struct Edge: Equatable {
    var block: BlockID
    var sense: Bool
    init(_ block: BlockID, _ sense: Bool) {
        self.block = block
        self.sense = sense
    }
}

/// Known outcomes of tests, each with the branch arm that taught it. Where paths meet, a fact
/// survives only if every path took that same arm — the arm dominates the meeting point, which
/// is how far libpcap's optimizer carries what it knows. (The same test learnt on different
/// arms of different paths would be true too, but libpcap does not use it, and a program it
/// keeps must stay as long as libpcap's.) A handful at a time, so a plain list beats hashing.
struct Facts {
    private var entries: [(test: Test, holds: Bool, edge: Edge)] = []

    subscript(test: Test) -> Bool? {
        for entry in entries where entry.test == test { return entry.holds }
        return nil
    }

    mutating func learn(_ test: Test, _ holds: Bool, on edge: Edge) {
        if !entries.contains(where: { $0.test == test && $0.edge == edge }) { entries.append((test, holds, edge)) }
    }

    /// The facts both lists learnt on the same arms.
    func common(with other: Facts) -> Facts {
        var result = Facts()
        result.entries = entries.filter { entry in other.entries.contains { $0.test == entry.test && $0.edge == entry.edge } }
        return result
    }

    func contains(where predicate: (Test, Bool) -> Bool) -> Bool {
        entries.contains { predicate($0.test, $0.holds) }
    }
}
