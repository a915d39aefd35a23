/// Primitives (libpcap's `rterm`): qualified operands, protocol names, comparisons, the special
/// primitives, and parenthesised expressions.
extension Parser {
    mutating func primitive(carrying carried: Carried) throws(ParseFailure) -> (FilterExpression, Carried) {
        let start = startOfCurrent
        switch peek() {
        case let .keyword(.protocolName(proto)):
            switch peek(1) {
            case .keyword(.source), .keyword(.destination), .keyword(.wirelessAddress), .keyword(.type):
                return try qualifiedPrimitive()
            case .keyword(.broadcast), .keyword(.multicast), .keyword(.wirelessType),
                 .keyword(.wirelessSubtype), .keyword(.wirelessDirection):
                _ = advance()
                return (try special(start: start, protocolQualifier: proto), nil)
            case .punctuation(.openBracket):
                return (try comparison(), nil)
            default:
                _ = advance()
                return (.proto(proto, SourceRange(start, endOfPrevious)), nil)
            }
        case .keyword(.source), .keyword(.destination), .keyword(.wirelessAddress), .keyword(.type):
            return try qualifiedPrimitive()
        case .punctuation(.openParen):
            if let comparison = try attempt({ (p) throws(ParseFailure) in try p.comparison() }) {
                return (comparison, nil)
            }
            _ = advance()
            let (inner, _) = try expression(carrying: carried)
            _ = try expect(.closeParen)
            return (inner, carried)
        case .number, .keyword(.length), .punctuation(.minus):
            return (try comparison(), nil)
        case .keyword:
            return (try special(start: start, protocolQualifier: nil), nil)
        default:
            throw fail()
        }
    }

    /// `[proto] (direction [type] | type | proto | protochain | gateway) operand`; the combinations
    /// libpcap's grammar allows (`src proto 1`, `src gateway x` are syntax errors).
    mutating func qualifiedPrimitive() throws(ParseFailure) -> (FilterExpression, Carried) {
        let start = startOfCurrent
        var qualifiers = Qualifiers()
        if case let .keyword(.protocolName(proto)) = peek() {
            _ = advance()
            qualifiers.proto = proto
        }
        if let direction = try directionQualifier() {
            qualifiers.direction = direction
            if case let .keyword(.type(type)) = peek(), [.host, .net, .port, .portrange].contains(type) {
                _ = advance()
                qualifiers.type = type
            }
        } else if case let .keyword(.type(type)) = peek() {
            _ = advance()
            qualifiers.type = type
        } else {
            throw fail()
        }
        let operand = try self.operand(carrying: qualifiers, inherited: false, qualifierStart: start)
        return (operand, qualifiers)
    }

    /// `src`, `dst`, `src or dst`, `dst or src`, `src and dst`, `dst and src`, `addr1`...`ta`.
    mutating func directionQualifier() throws(ParseFailure) -> DirectionQualifier? {
        switch peek() {
        case let .keyword(.wirelessAddress(direction)):
            _ = advance()
            return direction
        case .keyword(.source), .keyword(.destination):
            let first = advance().kind
            guard at(.and) || at(.or) else { return first == .keyword(.source) ? .source : .destination }
            let isAnd = at(.and)
            _ = advance()
            let other: TokenKind = first == .keyword(.source) ? .keyword(.destination) : .keyword(.source)
            guard peek() == other else { throw fail() }
            _ = advance()
            return isAnd ? .sourceAndDestination : .sourceOrDestination
        default:
            return nil
        }
    }

    /// The primitives that are neither `qualifiers operand` nor comparisons.
    mutating func special(start: Int, protocolQualifier: ProtocolQualifier?) throws(ParseFailure) -> FilterExpression {
        let keywordToken = current
        guard case let .keyword(keyword) = keywordToken.kind else { throw fail() }
        if protocolQualifier != nil, ![.broadcast, .multicast, .wirelessType, .wirelessSubtype, .wirelessDirection].contains(keyword) {
            throw fail()
        }
        _ = advance()
        let primitive: SpecialPrimitive
        switch keyword {
        case .broadcast: primitive = .broadcast(protocolQualifier)
        case .multicast: primitive = .multicast(protocolQualifier)
        case .less: primitive = .less(try number())
        case .greater: primitive = .greater(try number())
        case .interfaceIndex: primitive = .interfaceIndex(try number())
        case .inbound: primitive = .inbound
        case .outbound: primitive = .outbound
        case .pppoeDiscovery: primitive = .pppoeDiscovery
        case let .encapsulation(which):
            var value: UInt32? = nil
            if case .number = peek() { value = try parenthesisedNumber() } else if at(.openParen) { value = try parenthesisedNumber() }
            primitive = .encapsulation(which, value)
        case .llc:
            switch peek() {
            case let .name(subtype):
                try checkName(in: OperandNames.llcSubtypes) { "unknown LLC type name \"\($0)\"" }
                primitive = .llc(subtype)
            case .keyword(.pfRuleNumber):
                _ = advance()
                primitive = .llc("rnr")
            default:
                primitive = .llc(nil)
            }
        case .byte:
            primitive = try byteTest()
        case .wirelessType:
            try wirelessTypeAndSubtype()
            primitive = .unsupported(keywordToken.text)
        case .wirelessSubtype:
            let all = OperandNames.wirelessSubtypes.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            try checkName(in: all) { _ in "unknown 802.11 type name" }
            primitive = .unsupported(keywordToken.text)
        case .wirelessDirection:
            if case .number = peek() { _ = advance() } else {
                try checkName(in: OperandNames.wirelessDirections) { _ in "unknown 802.11 direction" }
            }
            primitive = .unsupported(keywordToken.text)
        case .pfReason:
            if case .number = peek() { _ = advance() } else {
                try checkName(in: OperandNames.pfReasons) { "unknown PF reason \"\($0)\"" }
            }
            primitive = .unsupported(keywordToken.text)
        case .pfAction:
            try checkName(in: OperandNames.pfActions) { "unknown PF action \"\($0)\"" }
            primitive = .unsupported(keywordToken.text)
        case .pfInterface, .pfRuleset:
            try name()
            primitive = .unsupported(keywordToken.text)
        case .pfRuleNumber, .pfSubruleNumber:
            _ = try number()
            primitive = .unsupported(keywordToken.text)
        case .atmType, .mtp2Type:
            primitive = .unsupported(keywordToken.text)
        case .atmField, .mtp3Field:
            try fieldValue()
            primitive = .unsupported(keywordToken.text)
        default:
            index -= 1
            throw fail()
        }
        return .special(primitive, SourceRange(start, endOfPrevious))
    }

    mutating func number() throws(ParseFailure) -> UInt32 {
        guard case let .number(value) = peek() else { throw fail() }
        _ = advance()
        return value
    }

    mutating func name() throws(ParseFailure) {
        guard case .name = peek() else { throw fail() }
        _ = advance()
    }

    /// A name from `names` (any case); another name is libpcap's `message`.
    mutating func checkName(in names: Set<String>, _ message: (String) -> String) throws(ParseFailure) {
        guard case let .name(name) = peek() else { throw fail() }
        guard names.contains(name.lowercased()) else { throw .committed(FilterError(message(name), at: current.range)) }
        _ = advance()
    }

    /// `type T [subtype S]`, T and S names or numbers, checked as libpcap's grammar checks them.
    mutating func wirelessTypeAndSubtype() throws(ParseFailure) {
        let type: UInt32
        switch peek() {
        case let .number(value):
            guard value & ~0x0C == 0 else { throw committed("invalid 802.11 type value 0x\(Self.hex(value))") }
            type = value
            _ = advance()
        case let .name(name):
            guard let value = OperandNames.wirelessTypes[name.lowercased()] else {
                throw committed("unknown 802.11 type name \"\(name)\"")
            }
            type = value
            _ = advance()
        default:
            throw fail()
        }
        guard at(.wirelessSubtype) else { return }
        _ = advance()
        switch peek() {
        case let .number(value):
            guard value & ~0xF0 == 0 else { throw committed("invalid 802.11 subtype value 0x\(Self.hex(value))") }
            _ = advance()
        case let .name(name):
            guard let subtypes = OperandNames.wirelessSubtypes[type] else { throw committed("unknown 802.11 type") }
            try checkName(in: subtypes) { "unknown 802.11 subtype name \"\($0)\"" }
        default:
            throw fail()
        }
    }

    func committed(_ message: String) -> ParseFailure { .committed(FilterError(message, at: current.range)) }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return digits.count < 2 ? "0" + digits : digits
    }

    /// `vpi`/`vci`/MTP3 field values: `N`, `relop N`, or `(N or N ...)`.
    mutating func fieldValue() throws(ParseFailure) {
        if case .number = peek() {
            _ = advance()
        } else if relationalOperator() != nil {
            _ = advance()
            _ = try number()
        } else {
            _ = try expect(.openParen)
            _ = try number()
            while at(.or) {
                _ = advance()
                _ = try number()
            }
            _ = try expect(.closeParen)
        }
    }

    /// `byte N op M`, op one of `& | < > =`.
    mutating func byteTest() throws(ParseFailure) -> SpecialPrimitive {
        let offset = try number()
        let op: ByteOperator
        switch peek() {
        case .punctuation(.ampersand): op = .and
        case .punctuation(.bar): op = .or
        case .punctuation(.less): op = .less
        case .punctuation(.greater): op = .greater
        case .punctuation(.equal): op = .equal
        default: throw fail()
        }
        _ = advance()
        return .byte(offset: offset, op, try number())
    }
}
