/// A branch's comparison named by the values it compares, so two tests of the same loaded
/// field against the same constant are recognised as one question about the packet.
struct Test: Hashable {
    var condition: Condition
    var a: ValueNumber
    var operand: ValueNumber
    /// Set on the identity of a peephole-rewritten branch: libpcap's optimizer decides such a
    /// test only from the same rewritten test, never from a plain test of the same value.
    var rewritten = false
}

/// The test a peephole-rewritten branch still counts as; `inverted` when the rewrite swapped
/// the arms (`and #k; jeq #0` → `jset #k`), so the true arm is taken when the test fails.
struct FoldedTest: Hashable {
    var test: Test
    var inverted: Bool
}

/// What every register holds at the start and end of every reachable block, found by visiting
/// the blocks in reverse postorder. A block entered over a loop's back edge starts knowing nothing.
struct ValueFlow {
    var table: ValueTable
    let order: [BlockID]
    let predecessors: Predecessors
    var entryState: [MachineState]
    var exitState: [MachineState]
    /// The comparison each block ends with, when both sides are known values.
    var tests: [Test?]
    /// Whether a block's true arm is taken when its test fails (see `FoldedTest`).
    var inverted: [Bool]
    /// `FlowGraph.foldsConstants` of the graph analysed.
    let foldsConstants: Bool
    /// Why libpcap's optimizer would refuse the program ("division by zero"), once found.
    var refusal: String?

    /// Analyses `graph`, rewriting its statements to cheaper equivalents on the way; `changed`
    /// tells whether a statement was rewritten or deleted.
    init(rewriting graph: inout FlowGraph, changed: inout Bool) {
        // Moved out and back, so that adding a number does not copy the whole table.
        table = graph.values
        graph.values = ValueTable()
        defer { graph.values = table }
        foldsConstants = graph.foldsConstants
        order = graph.reversePostorder()
        predecessors = graph.predecessors(of: order)
        entryState = Array(repeating: .unknown, count: graph.blocks.count)
        exitState = entryState
        tests = Array(repeating: nil, count: graph.blocks.count)
        inverted = Array(repeating: false, count: graph.blocks.count)
        var visited = [Bool](repeating: false, count: graph.blocks.count)
        // What later blocks read, as the round begins (libpcap's `out_use`), once constants fold.
        let liveOut = foldsConstants ? graph.liveness(order: order).liveOut : nil
        for id in order {
            var state = MachineState.unknown
            let incoming = predecessors[id]
            if id != graph.entry, let first = incoming.first, incoming.allSatisfy({ visited[$0] }) {
                state = exitState[first]
                for other in incoming.dropFirst() { state.meet(exitState[other]) }
            }
            entryState[id] = state
            var block = graph.blocks[id]
            // A new list only from the first statement that changes (in the later rounds most
            // blocks keep theirs as they are).
            var rewritten: [Statement]? = nil
            for (index, statement) in block.statements.enumerated() {
                let kept = step(statement, &state)
                if rewritten == nil, kept != statement {
                    rewritten = Array(block.statements[..<index])
                    rewritten?.reserveCapacity(block.statements.count)
                }
                if let kept { rewritten?.append(kept) }
            }
            // libpcap: a block whose results nobody reads and that leaves A and X holding what
            // they held on entry does nothing (`ldb [x+27]; and #2` after a block that ended
            // with that very value): its statements go, and the value stays live into it.
            if let liveOut, liveOut[id] == LocationSet(), !block.statements.isEmpty,
               let a = entryState[id].a, let x = entryState[id].x, state.a == a, state.x == x {
                rewritten = []
                state = entryState[id]
            }
            if case let .branch(condition, .x, ifTrue, ifFalse) = block.terminator, let k = table.constant(state.x) {
                block.terminator = .branch(condition, .constant(k), ifTrue: ifTrue, ifFalse: ifFalse)
            }
            if case let .branch(condition, operand, _, _) = block.terminator, let a = state.a {
                let compared: ValueNumber?
                switch operand {
                case let .constant(k): compared = table.number(.constant(k))
                case .x: compared = state.x
                }
                if let compared { tests[id] = Test(condition: condition, a: a, operand: compared) }
            }
            if let folded = graph.foldedTests[id] {
                tests[id] = folded.test
                inverted[id] = folded.inverted
            }
            if let rewritten { block.statements = rewritten }
            if block != graph.blocks[id] {
                graph.blocks[id] = block
                changed = true
            }
            exitState[id] = state
            visited[id] = true
        }
        if graph.refusal == nil { graph.refusal = refusal }
    }

    private func isMaskTest(_ statement: Statement, _ terminator: Terminator) -> Bool {
        guard statement == .arithmetic(.and, .constant(0)),
              case let .branch(.equal, .constant(0), ifTrue, ifFalse) = terminator else { return false }
        return ifTrue != ifFalse
    }

    /// Applies one statement to `state`; returns the statement to keep in its place (maybe a
    /// cheaper one) or nil when it would not change anything.
    mutating func step(_ statement: Statement, _ state: inout MachineState) -> Statement? {
        switch statement {
        case let .loadPacket(width, offset):
            return setA(.packet(width, offset: offset), statement, &state)
        case let .loadPacketIndexed(width, offset):
            // The offset wraps at 32 bits as libpcap's optimizer adds it (`[x + 14]` with X
            // 0xffffffff becomes `[13]`, where the machine would have rejected the packet).
            if foldsConstants, let index = table.constant(state.x) {
                return step(.loadPacket(width, offset: offset &+ index), &state)
            }
            guard let index = state.x else { state.a = nil; return statement }
            return setA(.packetIndexed(width, offset: offset, index: index), statement, &state)
        case let .loadConstant(k):
            return setA(.constant(k), statement, &state)
        case .loadLength:
            return setA(.length, statement, &state)
        case let .loadAncillary(field):
            return setA(.ancillary(field), statement, &state)
        case let .loadScratch(slot):
            guard let value = state.scratch[slot] else { state.a = nil; return statement }
            if let k = table.constant(value) { return setA(.constant(k), .loadConstant(k), &state) }
            if state.a == value { return nil }
            state.a = value
            return statement
        case let .loadXConstant(k):
            return setX(.constant(k), statement, &state)
        case .loadXLength:
            return setX(.length, statement, &state)
        case let .loadXHeaderLength(offset):
            return setX(.headerLength(offset: offset), statement, &state)
        case let .loadXScratch(slot):
            guard let value = state.scratch[slot] else { state.x = nil; return statement }
            if let k = table.constant(value) { return setX(.constant(k), .loadXConstant(k), &state) }
            if state.x == value { return nil }
            state.x = value
            return state.a == value ? .moveAToX(leftover: UInt32(slot)) : statement
        // A store of what the slot holds already goes only once constants fold, as in libpcap:
        // until then the dead statements go first, so a store that a later block repeats before
        // reading the slot is the one that goes (`40 >= len and len <= 1500` reloads the length).
        case let .storeA(slot):
            if foldsConstants, state.a != nil, state.scratch[slot] == state.a { return nil }
            state.scratch[slot] = state.a
            return statement
        case let .storeX(slot):
            if foldsConstants, state.x != nil, state.scratch[slot] == state.x { return nil }
            state.scratch[slot] = state.x
            return statement
        case let .arithmetic(op, .x):
            if foldsConstants, let k = table.constant(state.x) {
                if let a = table.constant(state.a) {
                    guard let result = foldLikeLibpcap(op, a, k) else { return statement }
                    return setA(.constant(result), .loadConstant(result), &state)
                }
                if op == .shiftLeft || op == .shiftRight, k > 31 {
                    refuse("shift by more than 31 bits")
                    return statement
                }
                return step(.arithmetic(op, .constant(k)), &state)
            }
            // libpcap: an operation on an A known to be 0 is a move or a constant.
            if foldsConstants, table.constant(state.a) == 0 {
                switch op {
                case .add, .or, .xor: return step(.moveXToA, &state)
                case .multiply, .divide, .modulo, .and, .shiftLeft, .shiftRight:
                    return setA(.constant(0), .loadConstant(0), &state)
                case .subtract: break
                }
            }
            guard let a = state.a, let x = state.x else { state.a = nil; return statement }
            state.a = table.number(.arithmetic(op, a, x))
            return statement
        case let .arithmetic(op, .constant(k)):
            // As libpcap's: an operation with 0 first, whatever A holds, then the folding of
            // a constant A.
            if k == 0, foldsConstants {
                switch op {
                // `sub #0` stays, as in libpcap (its peephole may fold it into a comparison).
                case .add, .or, .xor, .shiftLeft, .shiftRight: return nil
                case .multiply, .and: return setA(.constant(0), .loadConstant(0), &state)
                case .divide, .modulo: refuse(op == .divide ? "division by zero" : "modulus by zero")
                case .subtract: break
                }
            }
            if foldsConstants, let a = table.constant(state.a), let result = foldLikeLibpcap(op, a, k) {
                return setA(.constant(result), .loadConstant(result), &state)
            }
            guard let a = state.a else { return statement }
            state.a = table.number(.arithmetic(op, a, table.number(.constant(k))))
            return statement
        case .negate:
            if foldsConstants, let a = table.constant(state.a) {
                return setA(.constant(0 &- a), .loadConstant(0 &- a), &state)
            }
            guard let a = state.a else { return statement }
            state.a = table.number(.negated(a))
            return statement
        case .moveAToX:
            if state.a != nil, state.x == state.a { return nil }
            state.x = state.a
            return statement
        case .moveXToA:
            if state.x != nil, state.a == state.x { return nil }
            state.a = state.x
            return statement
        }
    }

    /// libpcap's folding of two constants: a shift by 32 or more gives 0; a division by zero
    /// refuses the program (nil).
    private mutating func foldLikeLibpcap(_ op: ArithmeticOperator, _ a: UInt32, _ b: UInt32) -> UInt32? {
        switch op {
        case .divide where b == 0, .modulo where b == 0:
            refuse(op == .divide ? "division by zero" : "modulus by zero")
            return nil
        case .shiftLeft where b >= 32, .shiftRight where b >= 32: return 0
        default: return fold(op, a, b)
        }
    }

    /// Notes that libpcap's optimizer gives up on this program, with its words.
    private mutating func refuse(_ message: String) {
        if refusal == nil { refusal = message }
    }

    private mutating func setA(_ expression: ValueExpression, _ statement: Statement, _ state: inout MachineState) -> Statement? {
        let value = table.number(expression)
        if state.a == value { return nil }
        state.a = value
        return statement
    }

    private mutating func setX(_ expression: ValueExpression, _ statement: Statement, _ state: inout MachineState) -> Statement? {
        let value = table.number(expression)
        if state.x == value { return nil }
        state.x = value
        return statement
    }
}

enum ValueNumbering {
    /// Rewrites statements to cheaper ones with the same effect; returns whether any changed.
    static func run(_ graph: inout FlowGraph) -> Bool {
        var changed = false
        _ = graph.valueFlow(changed: &changed)
        return changed
    }
}
