/// What a register or scratch slot holds, as an expression over the packet. Every expression is a
/// pure function of the packet (and its metadata), so two places holding the same value number
/// hold the same number, wherever they are in the program.
enum ValueExpression: Hashable {
    case constant(UInt32)
    case packet(LoadWidth, offset: UInt32)
    case packetIndexed(LoadWidth, offset: UInt32, index: ValueNumber)
    case headerLength(offset: UInt32)
    case length
    case ancillary(AncillaryField)
    case arithmetic(ArithmeticOperator, ValueNumber, ValueNumber)
    case negated(ValueNumber)
}

typealias ValueNumber = Int

/// Hands out one number per distinct expression.
struct ValueTable {
    private var numbers: [ValueExpression: ValueNumber] = [:]
    private var expressions: [ValueExpression] = []

    mutating func number(_ expression: ValueExpression) -> ValueNumber {
        if let known = numbers[expression] { return known }
        let number = expressions.count
        expressions.append(expression)
        numbers[expression] = number
        return number
    }

    func expression(_ number: ValueNumber) -> ValueExpression { expressions[number] }

    func constant(_ number: ValueNumber?) -> UInt32? {
        guard let number, case let .constant(value) = expressions[number] else { return nil }
        return value
    }
}

/// The filter machine's registers as value numbers; nil where nothing is known.
struct MachineState: Equatable {
    var a: ValueNumber?
    var x: ValueNumber?
    var scratch: [ValueNumber?]

    static let unknown = MachineState(a: nil, x: nil, scratch: Array(repeating: nil, count: FilterProgram.scratchSlots))

    /// What is known on both of two paths that meet.
    mutating func meet(_ other: MachineState) {
        if a != other.a { a = nil }
        if x != other.x { x = nil }
        for slot in scratch.indices where scratch[slot] != other.scratch[slot] { scratch[slot] = nil }
    }

    subscript(location: Location) -> ValueNumber? {
        switch location {
        case .a: return a
        case .x: return x
        case let .scratch(slot): return scratch[slot]
        }
    }
}

/// A place that holds a number: the accumulator, the index register or a scratch slot.
enum Location: Hashable {
    case a, x
    case scratch(Int)
}

/// Unsigned 32-bit arithmetic as the filter machine does it; nil where folding would change a
/// run-time rejection (division by zero) or rely on an out-of-range shift.
func fold(_ op: ArithmeticOperator, _ a: UInt32, _ b: UInt32) -> UInt32? {
    switch op {
    case .add: return a &+ b
    case .subtract: return a &- b
    case .multiply: return a &* b
    case .divide: return b == 0 ? nil : a / b
    case .modulo: return b == 0 ? nil : a % b
    case .and: return a & b
    case .or: return a | b
    case .xor: return a ^ b
    case .shiftLeft: return b >= 32 ? nil : a << b
    case .shiftRight: return b >= 32 ? nil : a >> b
    }
}

/// Whether `op #k` is an instruction classic BPF accepts (no constant division by zero or
/// shift by 32 or more).
func acceptsConstant(_ op: ArithmeticOperator, _ k: UInt32) -> Bool {
    switch op {
    case .divide, .modulo: return k != 0
    case .shiftLeft, .shiftRight: return k < 32
    default: return true
    }
}

/// The outcome of `A condition operand` for two known numbers.
func evaluate(_ condition: Condition, _ a: UInt32, _ b: UInt32) -> Bool {
    switch condition {
    case .equal: return a == b
    case .greater: return a > b
    case .greaterOrEqual: return a >= b
    case .bitsSet: return a & b != 0
    }
}
