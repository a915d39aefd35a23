import FilterCompiler

/// Turns a classic BPF instruction list (as `tcpdump -ddd` prints it, or as libpcap compiles
/// it) back into the IR, so that libpcap's own unoptimized program can be fed to our optimizer
/// and compared with libpcap's optimized one.
enum OptimizerLifting {
    struct Instruction: Hashable {
        var code: UInt16, jt: UInt8, jf: UInt8, k: UInt32
    }

    /// Nil for an instruction the IR has no statement for (`ret a`, `ret x`, ...).
    static func program(_ instructions: [Instruction]) -> FilterProgram? {
        guard !instructions.isEmpty else { return nil }
        var leaders: Set<Int> = [0]
        for (pc, instruction) in instructions.enumerated() {
            let kind = instruction.code & 0x07
            if kind == 0x05 {
                if instruction.code & 0xf0 == 0 {
                    leaders.insert(pc + 1 + Int(instruction.k))
                } else {
                    leaders.insert(pc + 1 + Int(instruction.jt))
                    leaders.insert(pc + 1 + Int(instruction.jf))
                }
                leaders.insert(pc + 1)
            } else if kind == 0x06 {
                leaders.insert(pc + 1)
            }
        }
        let starts = leaders.filter { $0 < instructions.count }.sorted()
        guard leaders.allSatisfy({ $0 <= instructions.count }) else { return nil }
        var blockOf: [Int: BlockID] = [:]
        for (id, start) in starts.enumerated() { blockOf[start] = id }
        var blocks: [Block] = []
        for start in starts {
            var statements: [Statement] = []
            var pc = start
            var terminator: Terminator?
            while pc < instructions.count {
                if pc != start, let next = blockOf[pc] { terminator = .jump(next); break }
                let instruction = instructions[pc]
                switch instruction.code & 0x07 {
                case 0x05:
                    guard let ending = branch(instruction, pc, blockOf) else { return nil }
                    terminator = ending
                case 0x06:
                    guard instruction.code & 0x18 == 0 else { return nil }
                    terminator = .verdict(instruction.k)
                default:
                    guard let statement = statement(instruction) else { return nil }
                    statements.append(statement)
                }
                if terminator != nil { break }
                pc += 1
            }
            guard let terminator else { return nil }
            blocks.append(Block(statements: statements, terminator: terminator))
        }
        return FilterProgram(blocks: blocks, entry: 0)
    }

    static func branch(_ instruction: Instruction, _ pc: Int, _ blockOf: [Int: BlockID]) -> Terminator? {
        let operand: Operand = instruction.code & 0x08 != 0 ? .x : .constant(instruction.k)
        let conditions: [UInt16: Condition] = [0x10: .equal, 0x20: .greater, 0x30: .greaterOrEqual, 0x40: .bitsSet]
        if instruction.code & 0xf0 == 0 {
            guard let target = blockOf[pc + 1 + Int(instruction.k)] else { return nil }
            return .jump(target)
        }
        guard let condition = conditions[instruction.code & 0xf0],
              let ifTrue = blockOf[pc + 1 + Int(instruction.jt)],
              let ifFalse = blockOf[pc + 1 + Int(instruction.jf)] else { return nil }
        return .branch(condition, operand, ifTrue: ifTrue, ifFalse: ifFalse)
    }

    static func statement(_ instruction: Instruction) -> Statement? {
        let code = instruction.code, k = instruction.k
        let widths: [UInt16: LoadWidth] = [0x00: .word, 0x08: .half, 0x10: .byte]
        switch code & 0x07 {
        case 0x00:
            switch code & 0xe0 {
            case 0x00: return .loadConstant(k)
            case 0x20:
                if k >= 0xffff_f000 { return AncillaryField(rawValue: k &- 0xffff_f000).map { .loadAncillary($0) } }
                return widths[code & 0x18].map { .loadPacket($0, offset: k) }
            case 0x40: return widths[code & 0x18].map { .loadPacketIndexed($0, offset: k) }
            case 0x60: return .loadScratch(Int(k))
            case 0x80: return .loadLength
            default: return nil
            }
        case 0x01:
            switch code & 0xe0 {
            case 0x00: return .loadXConstant(k)
            case 0x60: return .loadXScratch(Int(k))
            case 0x80: return .loadXLength
            case 0xa0: return .loadXHeaderLength(offset: k)
            default: return nil
            }
        case 0x02: return .storeA(Int(k))
        case 0x03: return .storeX(Int(k))
        case 0x04:
            let operators: [UInt16: ArithmeticOperator] = [
                0x00: .add, 0x10: .subtract, 0x20: .multiply, 0x30: .divide, 0x40: .or, 0x50: .and,
                0x60: .shiftLeft, 0x70: .shiftRight, 0x90: .modulo, 0xa0: .xor,
            ]
            if code & 0xf0 == 0x80 { return .negate }
            return operators[code & 0xf0].map { .arithmetic($0, code & 0x08 != 0 ? .x : .constant(k)) }
        case 0x07:
            return code & 0xf8 == 0 ? .moveAToX : .moveXToA
        default:
            return nil
        }
    }

    /// Instructions in a program as the classic back end emits it: one per statement and one
    /// per block ending, every block laid out once.
    static func length(_ program: FilterProgram) -> Int {
        var seen = Set<BlockID>()
        var stack = [program.entry]
        var total = 0
        while let id = stack.popLast() {
            guard seen.insert(id).inserted else { continue }
            total += program.blocks[id].statements.count + 1
            stack += program.blocks[id].successors
        }
        return total
    }

    /// Whether two programs are the same graph: blocks paired from the entries on have the same
    /// statements and endings, and their successors pair up the same way. Printed by the same
    /// layout, such programs print the same text.
    static func sameGraph(_ one: FilterProgram, _ other: FilterProgram) -> Bool {
        var pairs: [BlockID: BlockID] = [:], reverse: [BlockID: BlockID] = [:]
        var stack = [(one.entry, other.entry)]
        while let (a, b) = stack.popLast() {
            if let paired = pairs[a] { if paired != b { return false } else { continue } }
            if reverse[b] != nil { return false }
            pairs[a] = b
            reverse[b] = a
            let blockA = one.blocks[a], blockB = other.blocks[b]
            guard blockA.statements == blockB.statements else { return false }
            switch (blockA.terminator, blockB.terminator) {
            case let (.verdict(x), .verdict(y)) where x == y: break
            case let (.jump(x), .jump(y)): stack.append((x, y))
            case let (.branch(c1, o1, t1, f1), .branch(c2, o2, t2, f2)) where c1 == c2 && o1 == o2:
                stack.append((t1, t2))
                stack.append((f1, f2))
            default: return false
            }
        }
        return true
    }
}
