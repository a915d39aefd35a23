import FilterCompiler

/// The three listings tcpdump prints for a compiled filter.
public enum DumpFormat: Sendable {
    /// `-d`: one human-readable line per instruction.
    case assembly
    /// `-dd`: a C array initializer.
    case cArray
    /// `-ddd`: the instruction count, then decimal numbers.
    case decimal
}

/// Prints classic BPF exactly as tcpdump does (libpcap's `bpf_image` for `-d`).
public enum ClassicPrinter {
    public static func format(_ program: [ClassicInstruction], as format: DumpFormat) -> String {
        var text = ""
        switch format {
        case .assembly:
            for (index, instruction) in program.enumerated() {
                text += line(instruction, at: index)
                text += "\n"
            }
        case .cArray:
            for instruction in program {
                text += "{ 0x\(hex(UInt32(instruction.code))), \(instruction.jt), \(instruction.jf), 0x\(padded(hex(instruction.k), to: 8)) },\n"
            }
        case .decimal:
            text += "\(program.count)\n"
            for instruction in program {
                text += "\(instruction.code) \(instruction.jt) \(instruction.jf) \(instruction.k)\n"
            }
        }
        return text
    }

    /// One `-d` line without its newline, e.g. `(001) jeq      #0x800           jt 2\tjf 5`.
    public static func line(_ instruction: ClassicInstruction, at index: Int) -> String {
        let (mnemonic, operand) = image(instruction, at: index)
        let number = padded(String(index), to: 3, with: "0")
        let isConditional = instruction.code & 0x07 == ClassicOpcode.jmp
            && instruction.code & ClassicOpcode.operationMask != ClassicOpcode.ja
        if isConditional {
            let target = { (offset: UInt8) in String(index + 1 + Int(offset)) }
            return "(\(number)) \(leftAligned(mnemonic, 8)) \(leftAligned(operand, 16)) jt \(target(instruction.jt))\tjf \(target(instruction.jf))"
        }
        return "(\(number)) \(leftAligned(mnemonic, 8)) \(operand)"
    }

    /// The mnemonic and operand text of an instruction; opcodes bpf_image does not know are
    /// `unimp` with the opcode in hex (libpcap 1.10 prints `ldx #pktlen`, 0x81, that way too).
    static func image(_ instruction: ClassicInstruction, at index: Int) -> (String, String) {
        typealias Op = ClassicOpcode
        let k = instruction.k
        let signed = String(Int32(bitPattern: k))
        let hexK = "#0x" + hex(k)
        switch instruction.code {
        case Op.ret | Op.k: return ("ret", "#" + signed)
        case Op.ret | Op.a: return ("ret", "")
        case Op.ld | Op.word | Op.abs: return ("ld", absolute(k))
        case Op.ld | Op.half | Op.abs: return ("ldh", absolute(k))
        case Op.ld | Op.byte | Op.abs: return ("ldb", absolute(k))
        case Op.ld | Op.word | Op.len: return ("ld", "#pktlen")
        case Op.ld | Op.word | Op.ind: return ("ld", "[x + \(signed)]")
        case Op.ld | Op.half | Op.ind: return ("ldh", "[x + \(signed)]")
        case Op.ld | Op.byte | Op.ind: return ("ldb", "[x + \(signed)]")
        case Op.ld | Op.imm: return ("ld", hexK)
        case Op.ldx | Op.imm: return ("ldx", hexK)
        case Op.ldx | Op.byte | Op.msh: return ("ldxb", "4*([\(signed)]&0xf)")
        case Op.ld | Op.mem: return ("ld", "M[\(signed)]")
        case Op.ldx | Op.mem: return ("ldx", "M[\(signed)]")
        case Op.st: return ("st", "M[\(signed)]")
        case Op.stx: return ("stx", "M[\(signed)]")
        case Op.jmp | Op.ja:
            let target = UInt32(truncatingIfNeeded: index + 1) &+ k
            return ("ja", String(Int32(bitPattern: target)))
        case Op.alu | Op.neg: return ("neg", "")
        case Op.misc | Op.tax: return ("tax", "")
        case Op.misc | Op.txa: return ("txa", "")
        default: break
        }
        if let (name, _) = jumpNames.first(where: { $0.1 == instruction.code & ~Op.sourceMask }),
           instruction.code & 0x07 == Op.jmp {
            return (name, instruction.code & Op.sourceMask == Op.x ? "x" : hexK)
        }
        if instruction.code & 0x07 == Op.alu,
           let (name, operation) = aluNames.first(where: { Op.alu | $0.1 == instruction.code & ~Op.sourceMask }) {
            if instruction.code & Op.sourceMask == Op.x { return (name, "x") }
            let usesHex = operation == Op.and || operation == Op.or || operation == Op.xor
            return (name, usesHex ? hexK : "#" + signed)
        }
        return ("unimp", "0x" + hex(UInt32(instruction.code)))
    }

    static let jumpNames: [(String, UInt16)] = [
        ("jgt", ClassicOpcode.jmp | ClassicOpcode.jgt), ("jge", ClassicOpcode.jmp | ClassicOpcode.jge),
        ("jeq", ClassicOpcode.jmp | ClassicOpcode.jeq), ("jset", ClassicOpcode.jmp | ClassicOpcode.jset),
    ]
    static let aluNames: [(String, UInt16)] = [
        ("add", ClassicOpcode.add), ("sub", ClassicOpcode.sub), ("mul", ClassicOpcode.mul),
        ("div", ClassicOpcode.div), ("mod", ClassicOpcode.mod), ("and", ClassicOpcode.and),
        ("or", ClassicOpcode.or), ("xor", ClassicOpcode.xor), ("lsh", ClassicOpcode.lsh),
        ("rsh", ClassicOpcode.rsh),
    ]

    /// Names bpf_image gives the Linux ancillary offsets, in SKF_AD order (4 bytes apart).
    static let ancillaryNames = [
        "proto", "type", "ifidx", "nla", "nlan", "mark", "queue", "hatype",
        "rxhash", "cpu", "xor_x", "vlan_tci", "vlanp", "poff", "random", "vlan_tpid",
    ]

    static func absolute(_ k: UInt32) -> String {
        let relative = k &- ClassicOpcode.ancillaryBase
        if k >= ClassicOpcode.ancillaryBase, relative % 4 == 0, Int(relative / 4) < ancillaryNames.count {
            return "[\(ancillaryNames[Int(relative / 4)])]"
        }
        return "[\(Int32(bitPattern: k))]"
    }

    static func hex(_ value: UInt32) -> String { String(value, radix: 16) }

    static func padded(_ text: String, to width: Int, with pad: Character = "0") -> String {
        text.count >= width ? text : String(repeating: pad, count: width - text.count) + text
    }

    static func leftAligned(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
