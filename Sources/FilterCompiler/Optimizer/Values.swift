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

extension ValueExpression {
    /// Every statement of every pass looks its value up, so the hash packs the fields into as
    /// few words as it can (equal expressions still hash alike: the fields decide the words).
    func hash(into hasher: inout Hasher) {
        switch self {
        case let .constant(k):
            hasher.combine(UInt64(k))
        case let .packet(width, offset):
            hasher.combine(1 << 60 | UInt64(width.rawValue) << 32 | UInt64(offset))
        case let .packetIndexed(width, offset, index):
            hasher.combine(2 << 60 | UInt64(width.rawValue) << 32 | UInt64(offset))
            hasher.combine(index)
        case let .headerLength(offset):
            hasher.combine(3 << 60 | UInt64(offset))
        case .length:
            hasher.combine(UInt64(4) << 60)
        case let .ancillary(field):
            hasher.combine(5 << 60 | UInt64(field.rawValue))
        case let .arithmetic(op, a, b):
            hasher.combine(op)
            hasher.combine(a)
            hasher.combine(b)
        case let .negated(a):
            hasher.combine(UInt64(7) << 60)
            hasher.combine(a)
        }
    }
}

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
    var scratch: ScratchValues

    static let unknown = MachineState(a: nil, x: nil, scratch: ScratchValues())

    /// What is known on both of two paths that meet.
    mutating func meet(_ other: MachineState) {
        if a != other.a { a = nil }
        if x != other.x { x = nil }
        scratch.meet(other.scratch)
    }

    subscript(location: Location) -> ValueNumber? {
        switch location {
        case .a: return a
        case .x: return x
        case let .scratch(slot): return scratch[slot]
        }
    }
}

/// The value number in each scratch slot, held inline: a state is copied for every block of
/// every pass, so it must not need an array (an allocation) of its own.
struct ScratchValues: Equatable {
    /// -1 where nothing is known.
    private var lanes = SIMD16<Int32>(repeating: -1)

    init() { assert(FilterProgram.scratchSlots == SIMD16<Int32>.scalarCount) }

    subscript(slot: Int) -> ValueNumber? {
        get { lanes[slot] < 0 ? nil : ValueNumber(lanes[slot]) }
        set { lanes[slot] = newValue.map { Int32($0) } ?? -1 }
    }

    /// Forgets every slot where the two differ.
    mutating func meet(_ other: ScratchValues) {
        lanes.replace(with: -1, where: lanes .!= other.lanes)
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
