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
        var changed = decideConstantTests(&graph, flow)
        // Once constants fold (libpcap's second stage) no branch moves: a test decided only
        // then stays, with its constant load.
        guard !graph.foldsConstants else { return changed }
        let liveness = graph.liveness(order: flow.order)
        var known = Facts(FactTree(graph, flow))

        // An edge whose facts decide the test of the block it enters jumps over that block.
        for id in flow.order {
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse else { continue }
            func arm(_ sense: Bool) -> BlockID {
                known.start(at: id)
                if known.testNumber(at: id) >= 0 { known.learn(known.testNumber(at: id), sense != flow.inverted[id]) }
                let (landing, reload) = thread(from: id, to: sense ? ifTrue : ifFalse, &known, graph, flow, liveness)
                if let reload, graph.blocks[landing].statements.first != reload {
                    graph.blocks[landing].statements.insert(reload, at: 0)
                }
                return landing
            }
            let (newTrue, newFalse) = (arm(true), arm(false))
            if newTrue != ifTrue || newFalse != ifFalse {
                graph.blocks[id].terminator = .branch(condition, operand, ifTrue: newTrue, ifFalse: newFalse)
                changed = true
            }
        }
        return changed
    }

    /// A test of a constant: both arms go where the test goes. The block keeps its constant
    /// load and its (now idle) comparison; edges into it are threaded past it while branches
    /// still move (see `thread`).
    static func decideConstantTests(_ graph: inout FlowGraph, _ flow: ValueFlow) -> Bool {
        var changed = false
        for id in flow.order {
            guard case let .branch(condition, operand, ifTrue, ifFalse) = graph.blocks[id].terminator,
                  ifTrue != ifFalse else { continue }
            let outcome: Bool
            switch operand {
            // libpcap's peephole: `jset #0` never, `jset #0xffffffff` always — whatever A
            // holds, so a masked byte that is zero still counts as set.
            case .constant(0) where condition == .bitsSet: outcome = false
            case .constant(0xffff_ffff) where condition == .bitsSet: outcome = true
            case let .constant(k):
                guard let a = flow.table.constant(flow.exitState[id].a) else { continue }
                outcome = condition.holds(a, k)
            case .x:
                continue
            }
            let target = outcome ? ifTrue : ifFalse
            graph.blocks[id].terminator = .branch(condition, operand, ifTrue: target, ifFalse: target)
            changed = true
        }
        return changed
    }

    /// Follows the edge from `source` into `target` past every block whose test `known` decides,
    /// and returns the furthest block where skipping the blocks in between changes nothing the
    /// block reads — or changes only A, which held a packet field or constant the landing block
    /// reads: then also the load that block needs first. (Our value numbering drops a block's
    /// reload of the field its predecessor left in A while branches still move; libpcap's keeps
    /// it until constants fold, so its edges land there, and so do ours, with the load back.)
    static func thread(from source: BlockID, to target: BlockID, _ known: inout Facts, _ graph: FlowGraph,
                       _ flow: ValueFlow, _ liveness: Liveness) -> (BlockID, reload: Statement?) {
        var current = target
        var landing = target
        var reload: Statement? = nil
        func land(on next: BlockID) {
            let needed = liveness.liveIn[next]
            if agree(flow.exitState[source], flow.exitState[current], on: needed) {
                landing = next
                reload = nil
            } else if needed.contains(.a), agree(flow.exitState[source], flow.exitState[current], on: needed.subtracting(.a)),
                      // Every way into `next` brings that value: the load changes nothing for them.
                      flow.entryState[next].a == flow.exitState[current].a,
                      let load = loadOf(flow.exitState[current].a, flow.table) {
                landing = next
                reload = load
            }
        }
        for _ in 0..<graph.blocks.count {
            // A branch that goes one way whatever it tests is passed over, as an empty block.
            if current != source, let next = graph.blocks[current].onlySuccessor {
                land(on: next)
                current = next
                continue
            }
            guard current != source,
                  case let .branch(_, _, ifTrue, ifFalse) = graph.blocks[current].terminator, ifTrue != ifFalse,
                  case let test = known.testNumber(at: current), test >= 0,
                  let outcome = decideByFacts(test, known, flow.table) else { break }
            let next = outcome != flow.inverted[current] ? ifTrue : ifFalse
            known.learn(test, outcome)
            land(on: next)
            current = next
        }
        return (landing, reload)
    }

    /// The one statement that puts `value` in A, when it is a packet field at a fixed offset,
    /// the length or a constant.
    static func loadOf(_ value: ValueNumber?, _ table: ValueTable) -> Statement? {
        guard let value else { return nil }
        switch table.expression(value) {
        case let .packet(width, offset): return .loadPacket(width, offset: offset)
        case .length: return .loadLength
        case let .constant(k): return .loadConstant(k)
        default: return nil
        }
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

    /// The outcome of test number `number` if the facts known settle it.
    static func decideByFacts(_ number: Int, _ known: Facts, _ table: ValueTable) -> Bool? {
        if let outcome = known[number] { return outcome }
        let test = known.test(number)
        // A value equal to one constant differs from every other.
        if let (value, k) = comparedConstant(test, table) {
            let differs = known.containsEquality { fact in
                guard fact.rewritten == test.rewritten, let (factValue, c) = comparedConstant(fact, table) else { return false }
                return factValue == value && c != k
            }
            if differs { return false }
        }
        return nil
    }

    /// The value an equality test compares and the constant it compares it with: a test
    /// rewritten from `sub #c; jeq #0` (or `sub x` with a constant X) asks whether the value
    /// before the subtraction is c, as libpcap's asks once the `sub` is gone.
    static func comparedConstant(_ test: Test, _ table: ValueTable) -> (ValueNumber, UInt32)? {
        guard test.condition == .equal, let k = table.constant(test.operand) else { return nil }
        if test.rewritten, case let .arithmetic(.subtract, value, subtracted) = table.expression(test.a),
           let c = table.constant(subtracted) {
            return (value, k &+ c)
        }
        return (test.a, k)
    }
}

/// A test's outcome (the test by its number in `FactTree.tests`), learnt on a branch arm.
struct Fact {
    var test: Int
    var holds: Bool
}

/// Known outcomes of tests on one path: those on entry to a block (where paths meet, a fact
/// survives only if every path took that same arm — the arm dominates the meeting point, which
/// is how far libpcap's optimizer carries what it knows; the same test learnt on different
/// arms of different paths would be true too, but libpcap does not use it, and a program it
/// keeps must stay as long as libpcap's), then what following the path teaches. Where two facts
/// about one test disagree (a path no packet takes), the first learnt counts.
struct Facts {
    private let entry: FactTree
    /// The node of the facts on entry to the block the path starts from.
    private var node = 0
    /// What the path learnt, by test number: an outcome counts where its stamp is the current
    /// path's (one pair of arrays for all the paths of a pass, rather than a table per path).
    private var stamp: [Int]
    private var learnt: [Bool]
    private var path = 0
    private var learntEqualities: [Int] = []

    init(_ entry: FactTree) {
        self.entry = entry
        stamp = Array(repeating: 0, count: entry.tests.count)
        learnt = Array(repeating: false, count: entry.tests.count)
    }

    /// Forgets what the last path learnt, and starts a path from `block`.
    mutating func start(at block: BlockID) {
        node = entry.node[block]
        path += 1
        learntEqualities.removeAll(keepingCapacity: true)
    }

    func testNumber(at block: BlockID) -> Int { entry.testNumber[block] }

    func test(_ number: Int) -> Test { entry.tests[number] }

    subscript(test: Int) -> Bool? {
        entry.outcome(of: test, at: node) ?? (stamp[test] == path ? learnt[test] : nil)
    }

    mutating func learn(_ test: Int, _ holds: Bool) {
        if stamp[test] != path {
            stamp[test] = path
            learnt[test] = holds
        }
        if holds, entry.tests[test].condition == .equal { learntEqualities.append(test) }
    }

    /// Whether a fact known says that a value equals something, and `predicate` holds of it.
    func containsEquality(where predicate: (Test) -> Bool) -> Bool {
        entry.containsEquality(at: node, where: predicate) || learntEqualities.contains { predicate(entry.tests[$0]) }
    }
}
