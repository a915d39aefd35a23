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
    /// The fields packed into two words; different expressions give different words.
    private var words: (UInt64, UInt64) {
        switch self {
        case let .constant(k): return (0, UInt64(k))
        case let .packet(width, offset): return (1 << 56 | UInt64(width.rawValue), UInt64(offset))
        case let .packetIndexed(width, offset, index):
            return (2 << 56 | UInt64(width.rawValue) << 48 | UInt64(truncatingIfNeeded: index), UInt64(offset))
        case let .headerLength(offset): return (3 << 56, UInt64(offset))
        case .length: return (4 << 56, 0)
        case let .ancillary(field): return (5 << 56, UInt64(field.rawValue))
        case let .arithmetic(op, a, b):
            let code: UInt64
            switch op {
            case .add: code = 0
            case .subtract: code = 1
            case .multiply: code = 2
            case .divide: code = 3
            case .modulo: code = 4
            case .and: code = 5
            case .or: code = 6
            case .xor: code = 7
            case .shiftLeft: code = 8
            case .shiftRight: code = 9
            }
            return (6 << 56 | code << 48 | UInt64(truncatingIfNeeded: a), UInt64(truncatingIfNeeded: b))
        case let .negated(a): return (7 << 56, UInt64(truncatingIfNeeded: a))
        }
    }

    /// A cheap hash for `ValueTable` (its keys come from our own programs, so a keyed hash
    /// buys nothing there).
    var quickHash: Int {
        let (high, low) = words
        var h = high &* 0x9E37_79B9_7F4A_7C15 ^ low
        h ^= h >> 29
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }

    func hash(into hasher: inout Hasher) {
        let (high, low) = words
        hasher.combine(high)
        hasher.combine(low)
    }
}

/// Hands out one number per distinct expression. Every statement of every pass looks its value
/// up, so the lookup is a small open-addressing table with a cheap hash rather than a Dictionary.
struct ValueTable {
    private var expressions: [ValueExpression] = []
    /// Value number + 1 in each slot, 0 where empty; the count is a power of two, at least
    /// twice the number of expressions.
    private var slots: [Int32] = []

    mutating func number(_ expression: ValueExpression) -> ValueNumber {
        if slots.isEmpty { slots = [Int32](repeating: 0, count: 64) }
        let mask = slots.count - 1
        var index = expression.quickHash & mask
        while slots[index] != 0 {
            let number = Int(slots[index]) - 1
            if expressions[number] == expression { return number }
            index = (index + 1) & mask
        }
        let number = expressions.count
        expressions.append(expression)
        slots[index] = Int32(number + 1)
        if expressions.count * 2 > slots.count { grow() }
        return number
    }

    private mutating func grow() {
        var grown = [Int32](repeating: 0, count: slots.count * 2)
        let mask = grown.count - 1
        for (number, expression) in expressions.enumerated() {
            var index = expression.quickHash & mask
            while grown[index] != 0 { index = (index + 1) & mask }
            grown[index] = Int32(number + 1)
        }
        slots = grown
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
