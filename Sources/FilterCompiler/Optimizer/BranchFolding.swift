/// Tests whose outcome is already known where control reaches them.
///
/// Every branch outcome is a fact about the packet (the values are pure functions of it), so a
/// fact learnt on every path to an edge holds on that edge. When the facts on an edge decide the
/// test of the block it enters, the edge can go straight to the arm the test would take —
/// provided the block's statements leave nothing behind that the arm reads, or leave exactly
/// what the edge's source already holds.
enum BranchFolding {
    /// Known outcomes: test → whether it holds.
    typealias Facts = [Test: Bool]

    static func run(_ graph: inout FlowGraph) -> Bool {
        var unchanged = false
        var flow = ValueFlow(rewriting: &graph, changed: &unchanged)
        let liveness = Liveness(graph, order: flow.order)
        let entryFacts = facts(graph, flow)
        var changed = false

        // A test of a constant: both arms go where the test goes. The block keeps its
        // constant load and its (now idle) comparison, as libpcap's optimizer leaves them.
        for id in flow.order {
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse, let test = flow.tests[id],
                  let outcome = decideByConstants(test, flow.table) else { continue }
            let target = outcome ? ifTrue : ifFalse
            graph.blocks[id].terminator = .branch(condition, operand, ifTrue: target, ifFalse: target)
            changed = true
        }
        // An edge whose facts decide the test of the block it enters jumps over that block.
        for id in flow.order {
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse else { continue }
            let arms = [true, false].map { sense -> BlockID in
                var known = entryFacts[id]
                if let test = flow.tests[id] { known[test] = sense }
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
            let next = outcome ? ifTrue : ifFalse
            known[test] = outcome
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
            for (fact, holds) in known where holds && fact.condition == .equal && fact.a == test.a {
                if let other = table.constant(fact.operand), other != k { return false }
            }
        }
        return nil
    }

    /// The facts that hold on entry to each reachable block: those holding on every edge into
    /// it. Nothing is assumed over a loop's back edge.
    static func facts(_ graph: FlowGraph, _ flow: ValueFlow) -> [Facts] {
        var result = [Facts](repeating: [:], count: graph.blocks.count)
        var visited = [Bool](repeating: false, count: graph.blocks.count)
        for id in flow.order {
            defer { visited[id] = true }
            let incoming = flow.predecessors[id]
            guard id != graph.entry, !incoming.isEmpty, incoming.allSatisfy({ visited[$0] }) else { continue }
            var common: Facts? = nil
            for predecessor in Set(incoming) {
                for edgeFacts in outgoingFacts(predecessor, into: id, graph, flow, result) {
                    common = common.map { $0.filter { edgeFacts[$0.key] == $0.value } } ?? edgeFacts
                }
            }
            result[id] = common ?? [:]
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
            known[test] = sense
            edges.append(known)
        }
        return edges
    }
}
