import FilterCompiler

/// Runs classic BPF with the semantics of libpcap's userland `bpf_filter`: the result is the
/// number of bytes to keep, 0 to reject.
///
/// - A load that reaches past the captured bytes rejects (0); `#pktlen` is the wire length.
/// - Ancillary loads (`[type]`, `[vlan_tci]`, ...) have no metadata to read here: they reject,
///   as `bpf_filter` without auxiliary data does.
/// - Division or modulo by a zero X rejects; a shift by X of 32 or more gives 0; a shift by a
///   constant uses its low five bits (what bpf_filter does on x86).
/// - `ja` takes its offset as signed, so protochain's backward jump works.
/// - Scratch memory starts zeroed.
/// Programs bpf_filter would crash on are given an answer instead: an unknown opcode, a jump
/// out of the program, running off its end, a scratch slot past M[15] or a division by a
/// constant 0 reject. Execution stops (rejecting) after `stepLimit` instructions, so a looping
/// program cannot hang.
public enum ClassicInterpreter {
    public static let stepLimit = 1 << 20

    public static func run(_ program: [ClassicInstruction], packet: [UInt8], wireLength: UInt32) -> UInt32 {
        execute(program, packet: packet, wireLength: wireLength) ?? 0
    }

    /// Whether the program stops within `stepLimit` instructions on this packet (only a
    /// backward `ja` can make it run longer).
    public static func halts(_ program: [ClassicInstruction], packet: [UInt8], wireLength: UInt32) -> Bool {
        execute(program, packet: packet, wireLength: wireLength) != nil
    }

    /// The program's answer, or nil when it ran `stepLimit` instructions without stopping.
    static func execute(_ program: [ClassicInstruction], packet: [UInt8], wireLength: UInt32) -> UInt32? {
        typealias Op = ClassicOpcode
        var a: UInt32 = 0
        var x: UInt32 = 0
        var memory = InlineArray<16, UInt32>(repeating: 0)
        var pc = 0
        let captured = UInt64(packet.count)

        /// Big-endian bytes at `offset`, or nil when they are not all captured.
        func load(_ offset: UInt64, _ size: UInt64) -> UInt32? {
            guard offset + size <= captured else { return nil }
            var value: UInt32 = 0
            for index in Int(offset)..<Int(offset + size) { value = value << 8 | UInt32(packet[index]) }
            return value
        }

        for _ in 0..<stepLimit {
            guard pc >= 0, pc < program.count else { return 0 }
            let instruction = program[pc]
            guard instruction.code <= 0xff else { return 0 }
            let k = instruction.k
            pc += 1
            switch instruction.code {
            case Op.ret | Op.k: return k
            case Op.ret | Op.a: return a
            case Op.ld | Op.imm: a = k
            case Op.ldx | Op.imm: x = k
            case Op.ld | Op.word | Op.len: a = wireLength
            case Op.ldx | Op.word | Op.len: x = wireLength
            case Op.ld | Op.mem, Op.ldx | Op.mem, Op.st, Op.stx:
                guard k < 16 else { return 0 }
                switch instruction.code {
                case Op.ld | Op.mem: a = memory[Int(k)]
                case Op.ldx | Op.mem: x = memory[Int(k)]
                case Op.st: memory[Int(k)] = a
                default: memory[Int(k)] = x
                }
            case Op.ldx | Op.byte | Op.msh:
                guard let byte = load(UInt64(k), 1) else { return 0 }
                x = (byte & 0xf) << 2
            case Op.alu | Op.neg: a = 0 &- a
            case Op.misc | Op.tax: x = a
            case Op.misc | Op.txa: a = x
            case Op.jmp | Op.ja:
                pc += Int(Int32(bitPattern: k))
            default:
                switch instruction.code & 0x07 {
                case Op.ld:
                    guard let size = loadSize(instruction.code) else { return 0 }
                    let mode = instruction.code & Op.modeMask
                    guard mode == Op.abs || mode == Op.ind else { return 0 }
                    let offset = UInt64(k) + (mode == Op.ind ? UInt64(x) : 0)
                    guard let value = load(offset, size) else { return 0 }
                    a = value
                case Op.alu:
                    let source = instruction.code & Op.sourceMask == Op.x
                    let operand = source ? x : k
                    switch instruction.code & Op.operationMask {
                    case Op.add: a = a &+ operand
                    case Op.sub: a = a &- operand
                    case Op.mul: a = a &* operand
                    case Op.div:
                        guard operand != 0 else { return 0 }
                        a /= operand
                    case Op.mod:
                        guard operand != 0 else { return 0 }
                        a %= operand
                    case Op.and: a &= operand
                    case Op.or: a |= operand
                    case Op.xor: a ^= operand
                    case Op.lsh: a = source ? (operand < 32 ? a << operand : 0) : a << (operand & 31)
                    case Op.rsh: a = source ? (operand < 32 ? a >> operand : 0) : a >> (operand & 31)
                    default: return 0
                    }
                case Op.jmp:
                    guard let condition = Condition(jumpOpcode: instruction.code) else { return 0 }
                    let operand = instruction.code & Op.sourceMask == Op.x ? x : k
                    pc += Int(condition.holds(a, operand) ? instruction.jt : instruction.jf)
                default:
                    return 0
                }
            }
        }
        return nil
    }

    /// Bytes a packet load opcode reads.
    static func loadSize(_ code: UInt16) -> UInt64? {
        switch code & ClassicOpcode.sizeMask {
        case ClassicOpcode.word: 4
        case ClassicOpcode.half: 2
        case ClassicOpcode.byte: 1
        default: nil
        }
    }
}
