import FilterLanguage
import PacketFormats

/// The scratch slots M[0..15], handed out round-robin from the last slot given: a slot freed
/// right after it was taken is taken again, others only when the turn comes round.
struct ScratchRegisters {
    private var used = [Bool](repeating: false, count: FilterProgram.scratchSlots)
    private var current = 0

    mutating func allocate() -> Int? {
        for _ in 0 ..< used.count {
            if !used[current] {
                used[current] = true
                return current
            }
            current = (current + 1) % used.count
        }
        return nil
    }

    mutating func free(_ slot: Int) {
        used[slot] = false
    }
}

/// A compiled arithmetic expression: statements that leave its value in a scratch slot, and
/// the protocol tests its packet loads depend on.
struct Value {
    var statements: [Statement]
    var slot: Int
    var guards: Fragment?
}

extension Generator {
    mutating func slot() throws(FilterError) -> Int {
        guard let slot = registers.allocate() else { throw fail("too many registers needed to evaluate expression") }
        return slot
    }

    /// `arith relop arith`.
    mutating func comparison(_ op: RelationalOperator, _ lhs: ArithmeticExpression, _ rhs: ArithmeticExpression) throws(FilterError) -> Fragment {
        let a = try value(lhs)
        let b = try value(rhs)
        var statements = a.statements + b.statements
        statements += [.loadXScratch(b.slot), .loadScratch(a.slot)]
        let condition: Condition
        var negate = false
        switch op {
        case .equal, .notEqual:
            statements.append(.arithmetic(.subtract, .x))
            condition = .equal
            negate = op == .notEqual
        case .greater: condition = .greater
        case .greaterOrEqual: condition = .greaterOrEqual
        case .less: condition = .greaterOrEqual; negate = true
        case .lessOrEqual: condition = .greater; negate = true
        }
        var test = op == .equal || op == .notEqual
            ? graph.branch(statements, condition, .constant(0))
            : graph.branch(statements, condition, .x)
        if negate { test = test.negated }
        registers.free(a.slot)
        registers.free(b.slot)
        let guards: Fragment?
        switch (a.guards, b.guards) {
        case let (x?, y?): guards = graph.and(x, y)
        case let (x?, nil): guards = x
        case let (nil, y): guards = y
        }
        if let guards { test = graph.and(guards, test) }
        return test
    }

    mutating func value(_ expression: ArithmeticExpression) throws(FilterError) -> Value {
        switch expression {
        case let .constant(k, _):
            let slot = try slot()
            return Value(statements: [.loadConstant(k), .storeA(slot)], slot: slot)
        case .length:
            let slot = try slot()
            return Value(statements: [.loadLength, .storeA(slot)], slot: slot)
        case let .load(proto, index, size, range):
            let index = try value(index)
            self.range = range
            return try packetLoad(proto, index: index, size: size)
        case .binary:
            // `1 + 2 + 3 ...` groups to the left: a tree as deep as it is long. Its left spine is
            // walked in a loop, in the order the recursion would take, so a long chain needs no
            // more stack than one operator.
            var rightOperands: [(op: ArithmeticBinaryOperator, rhs: ArithmeticExpression, range: SourceRange)] = []
            var leftmost = expression
            while case let .binary(op, lhs, rhs, range) = leftmost {
                rightOperands.append((op, rhs, range))
                leftmost = lhs
            }
            var a = try value(leftmost)
            for (op, rhs, range) in rightOperands.reversed() {
                let b = try value(rhs)
                self.range = range
                a = try arithmetic(op, a, b)
            }
            return a
        case .negate:
            var negations = 0
            var operand = expression
            while case let .negate(inner, _) = operand {
                negations += 1
                operand = inner
            }
            var a = try value(operand)
            for _ in 0..<negations { a.statements += [.loadScratch(a.slot), .negate, .storeA(a.slot)] }
            return a
        }
    }

    private mutating func arithmetic(_ op: ArithmeticBinaryOperator, _ a: Value, _ b: Value) throws(FilterError) -> Value {
        // libpcap looks at the first statement of the right operand: a constant load there
        // (even the index of a packet load) is taken as the operand's value.
        if case let .loadConstant(k)? = b.statements.first {
            if (op == .divide || op == .modulo) && k == 0 {
                throw fail(op == .divide ? "division by zero" : "modulus by zero")
            }
            if (op == .shiftLeft || op == .shiftRight) && k > 31 {
                throw fail("shift by more than 31 bits")
            }
        }
        let operation: ArithmeticOperator
        switch op {
        case .add: operation = .add
        case .subtract: operation = .subtract
        case .multiply: operation = .multiply
        case .divide: operation = .divide
        case .modulo: operation = .modulo
        case .and: operation = .and
        case .or: operation = .or
        case .xor: operation = .xor
        case .shiftLeft: operation = .shiftLeft
        case .shiftRight: operation = .shiftRight
        }
        var statements = a.statements + b.statements
        statements += [.loadXScratch(b.slot), .loadScratch(a.slot), .arithmetic(operation, .x)]
        registers.free(a.slot)
        registers.free(b.slot)
        let slot = try slot()
        statements.append(.storeA(slot))
        // As in libpcap, only the left operand's protocol tests are kept.
        return Value(statements: statements, slot: slot, guards: a.guards)
    }

    /// `proto[index : size]`: the index is relative to the protocol's header.
    private mutating func packetLoad(_ proto: ProtocolQualifier, index: Value, size: UInt32) throws(FilterError) -> Value {
        let width: LoadWidth
        switch size {
        case 1: width = .byte
        case 2: width = .half
        case 4: width = .word
        default: throw fail("data size must be 1, 2, or 4")
        }
        var statements = index.statements
        var guards = index.guards
        switch proto {
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            statements += indexedLoad(at: link.header, index: index.slot, 0, width)
        case .ip, .arp, .rarp, .atalk, .decnet, .sca, .lat, .moprc, .mopdl, .ip6:
            statements += indexedLoad(at: link.payload, index: index.slot, link.network, width)
            let check = try protocolAbbreviation(proto)
            guards = guards.map { graph.and($0, check) } ?? check
        case .tcp, .udp, .icmp, .igmp, .igrp, .pim, .vrrp, .carp, .sctp:
            statements += ipv4HeaderLengthToX()
            statements += [.loadScratch(index.slot), .arithmetic(.add, .x), .moveAToX(),
                           .loadPacketIndexed(width, offset: link.payload.constant &+ link.network)]
            let check = try protocolAbbreviation(proto)
            let fragment = firstFragment()
            var combined = graph.and(check, fragment)
            if let g = guards { combined = graph.and(g, combined) }
            guards = graph.and(try linkType(Protocols.EtherType.ip), combined)
        case .icmp6:
            statements += indexedLoad(at: link.payload, index: index.slot, link.network &+ Protocols.IPv6.headerLength, width)
            let check = graph.and(try linkType(Protocols.EtherType.ip6),
                                  compare(.network, Protocols.IPv6.nextHeaderField, .byte, Protocols.IPProtocol.icmp6))
            guards = guards.map { graph.and($0, check) } ?? check
        case .radio:
            throw fail("radio information not present in capture")
        default:
            throw fail("unsupported index operation")
        }
        let slot = try slot()
        registers.free(index.slot)
        statements.append(.storeA(slot))
        return Value(statements: statements, slot: slot, guards: guards)
    }

    /// `A = packet[X + position + extra]`, adding the variable part of the position to X first.
    private func indexedLoad(at position: PacketPosition, index: Int, _ extra: UInt32, _ width: LoadWidth) -> [Statement] {
        let load = Statement.loadPacketIndexed(width, offset: position.constant &+ extra)
        if let register = position.register {
            return [.loadXScratch(register), .loadScratch(index), .arithmetic(.add, .x), .moveAToX(), load]
        }
        return [.loadXScratch(index), load]
    }

    /// `byte N op M`. With `&` and `|` libpcap tests A against M without loading the byte
    /// (A holds whatever the code before left there); the others compare link-header byte N.
    mutating func byteTest(_ offset: UInt32, _ op: ByteOperator, _ value: UInt32) -> Fragment {
        switch op {
        case .equal: return compare(.linkHeader, offset, .byte, value)
        case .greater: return compare(.linkHeader, offset, .byte, value, .greater)
        case .less: return compare(.linkHeader, offset, .byte, value, .greaterOrEqual, negate: true)
        case .and: return graph.branch([.arithmetic(.and, .constant(value))], .equal, .constant(0)).negated
        case .or: return graph.branch([.arithmetic(.or, .constant(value))], .equal, .constant(0)).negated
        }
    }

    /// `len` compared with a constant (`less`, `greater`).
    mutating func compareLength(_ n: UInt32, _ condition: Condition, negate: Bool) -> Fragment {
        let test = graph.branch([.loadLength], condition, .constant(n))
        return negate ? test.negated : test
    }
}
