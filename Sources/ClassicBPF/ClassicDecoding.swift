import FilterCompiler

extension Statement {
    /// The straight-line statement an instruction encodes, or nil for jumps, returns and
    /// opcodes the IR has no statement for. The inverse of `ClassicInstruction.init(_:)`.
    public init?(_ instruction: ClassicInstruction) {
        typealias Op = ClassicOpcode
        let k = instruction.k
        let slot = Int(k)
        let isSlot = k < UInt32(FilterProgram.scratchSlots)
        switch instruction.code {
        case Op.ld | Op.imm: self = .loadConstant(k)
        case Op.ldx | Op.imm: self = .loadXConstant(k)
        case Op.ld | Op.word | Op.len: self = .loadLength
        case Op.ldx | Op.word | Op.len: self = .loadXLength
        case Op.ld | Op.mem where isSlot: self = .loadScratch(slot)
        case Op.ldx | Op.mem where isSlot: self = .loadXScratch(slot)
        case Op.st where isSlot: self = .storeA(slot)
        case Op.stx where isSlot: self = .storeX(slot)
        case Op.ldx | Op.byte | Op.msh: self = .loadXHeaderLength(offset: k)
        case Op.alu | Op.neg: self = .negate
        case Op.misc | Op.tax: self = .moveAToX(leftover: k)
        case Op.misc | Op.txa: self = .moveXToA
        default:
            if let width = LoadWidth.allCases.first(where: { Op.ld | $0.classicSize | Op.abs == instruction.code }) {
                if let field = AncillaryField(rawValue: k &- Op.ancillaryBase), k >= Op.ancillaryBase, field.loadWidth == width {
                    self = .loadAncillary(field)
                } else {
                    self = .loadPacket(width, offset: k)
                }
            } else if let width = LoadWidth.allCases.first(where: { Op.ld | $0.classicSize | Op.ind == instruction.code }) {
                self = .loadPacketIndexed(width, offset: k)
            } else if instruction.code & 0x07 == Op.alu,
                      let operation = ArithmeticOperator.allCases.first(where: { Op.alu | $0.classicOperation == instruction.code & ~Op.sourceMask }) {
                self = .arithmetic(operation, instruction.code & Op.sourceMask == Op.x ? .x : .constant(k))
            } else {
                return nil
            }
        }
    }
}

extension Condition {
    /// The condition of a conditional jump opcode, nil for anything else.
    public init?(jumpOpcode code: UInt16) {
        guard code & 0x07 == ClassicOpcode.jmp,
              let condition = Condition.allCases.first(where: { ClassicOpcode.jmp | $0.classicCondition == code & ~ClassicOpcode.sourceMask })
        else { return nil }
        self = condition
    }
}
