import FilterCompiler

/// Runs an IR program directly, the way classic BPF runs the instructions printed from it, and
/// says whether the run stopped early (a load past the end, a division by zero): those are the
/// runs where deleting an unneeded load may change the verdict, as it does in libpcap.
struct OptimizerMachine {
    struct Outcome: Equatable {
        var verdict: UInt32
        var stoppedEarly: Bool
    }

    var packet: [UInt8]
    var wireLength: UInt32
    var metadata: [AncillaryField: UInt32] = [:]

    func run(_ program: FilterProgram, stepLimit: Int = 10_000) -> Outcome {
        var a: UInt32 = 0, x: UInt32 = 0
        var scratch = [UInt32](repeating: 0, count: FilterProgram.scratchSlots)
        var id = program.entry
        let early = Outcome(verdict: 0, stoppedEarly: true)
        for _ in 0..<stepLimit {
            let block = program.blocks[id]
            for statement in block.statements {
                switch statement {
                case let .loadPacket(width, offset):
                    guard let value = load(width, at: UInt64(offset)) else { return early }
                    a = value
                case let .loadPacketIndexed(width, offset):
                    guard let value = load(width, at: UInt64(x &+ offset)) else { return early }
                    a = value
                case let .loadConstant(k): a = k
                case .loadLength: a = wireLength
                case let .loadScratch(slot): a = scratch[slot]
                case let .loadXConstant(k): x = k
                case .loadXLength: x = wireLength
                case let .loadXScratch(slot): x = scratch[slot]
                case let .loadXHeaderLength(offset):
                    guard let byte = load(.byte, at: UInt64(offset)) else { return early }
                    x = 4 * (byte & 0x0f)
                case let .storeA(slot): scratch[slot] = a
                case let .storeX(slot): scratch[slot] = x
                case let .arithmetic(op, operand):
                    let b: UInt32
                    switch operand {
                    case let .constant(k): b = k
                    case .x: b = x
                    }
                    guard let result = Self.apply(op, a, b) else { return early }
                    a = result
                case .negate: a = 0 &- a
                case .moveAToX: x = a
                case .moveXToA: a = x
                case let .loadAncillary(field): a = metadata[field] ?? 0
                }
            }
            switch block.terminator {
            case let .verdict(k):
                return Outcome(verdict: k, stoppedEarly: false)
            case let .jump(target):
                id = target
            case let .branch(condition, operand, ifTrue, ifFalse):
                let b: UInt32
                switch operand {
                case let .constant(k): b = k
                case .x: b = x
                }
                id = condition.holds(a, b) ? ifTrue : ifFalse
            }
        }
        return early
    }

    func load(_ width: LoadWidth, at offset: UInt64) -> UInt32? {
        let count = UInt64(width.rawValue)
        guard offset + count <= UInt64(packet.count) else { return nil }
        var value: UInt32 = 0
        for index in 0..<Int(count) { value = value << 8 | UInt32(packet[Int(offset) + index]) }
        return value
    }

    static func apply(_ op: ArithmeticOperator, _ a: UInt32, _ b: UInt32) -> UInt32? {
        switch op {
        case .add: return a &+ b
        case .subtract: return a &- b
        case .multiply: return a &* b
        case .divide: return b == 0 ? nil : a / b
        case .modulo: return b == 0 ? nil : a % b
        case .and: return a & b
        case .or: return a | b
        case .xor: return a ^ b
        case .shiftLeft: return b >= 32 ? 0 : a << b
        case .shiftRight: return b >= 32 ? 0 : a >> b
        }
    }
}
