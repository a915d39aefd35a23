/// A readable listing of a program in the syntax of the kernel verifier's log and
/// `bpftool prog dump xlated`: one line per instruction, numbered by slot.
///
/// ```
///    0: (61) r8 = *(u32 *)(r1 +0)
///    5: (56) if w6 != 0x800 goto +12
///    9: (b7) r0 = 2
///   10: (95) exit
/// ```
public enum Format {
    public static func listing(_ program: [EBPFInstruction]) -> String {
        var lines: [String] = []
        let width = String(max(program.count - 1, 0)).count
        var index = 0
        while index < program.count {
            let instruction = program[index]
            let next = index + 1 < program.count ? program[index + 1] : nil
            let number = String(index)
            let padded = String(repeating: " ", count: width - number.count) + number
            lines.append("\(padded): (\(hex2(instruction.opcode))) \(text(instruction, next: next))")
            index += instruction.isLoadImmediate64 ? 2 : 1
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// One instruction in verifier syntax; `next` is the second slot of an ld_imm64.
    public static func text(_ instruction: EBPFInstruction, next: EBPFInstruction? = nil) -> String {
        let code = instruction.opcode
        let dst = "r\(instruction.dst)", src = "r\(instruction.src)"
        switch Opcode.classOf(code) {
        case Opcode.classALU, Opcode.classALU64:
            return arithmetic(instruction)
        case Opcode.classJump, Opcode.classJump32:
            return jump(instruction)
        case Opcode.classLoadX:
            return "\(dst) = *(\(sizeName(code)) *)(\(src) \(signed(instruction.offset)))"
        case Opcode.classStoreX:
            return "*(\(sizeName(code)) *)(\(dst) \(signed(instruction.offset))) = \(src)"
        case Opcode.classStore:
            return "*(\(sizeName(code)) *)(\(dst) \(signed(instruction.offset))) = \(instruction.immediate)"
        default:
            guard instruction.isLoadImmediate64 else { return "(bad opcode 0x\(hex2(code)))" }
            if instruction.src == Opcode.pseudoMapValue {
                let name = instruction.mapReference.map { "\($0)" } ?? "fd:\(instruction.immediate)"
                return "\(dst) = &map[\(name)] + \(next?.immediate ?? 0)"
            }
            if instruction.src == Opcode.pseudoMapFD {
                let name = instruction.mapReference.map { "\($0)" } ?? "fd:\(instruction.immediate)"
                return "\(dst) = map[\(name)]" + (instruction.mapReference != nil && instruction.immediate != 0
                                                  ? " (fd \(instruction.immediate))" : "")
            }
            let low = UInt64(UInt32(bitPattern: instruction.immediate))
            let high = UInt64(UInt32(bitPattern: next?.immediate ?? 0))
            return "\(dst) = 0x\(String(high << 32 | low, radix: 16)) ll"
        }
    }

    private static func arithmetic(_ instruction: EBPFInstruction) -> String {
        let code = instruction.opcode
        let prefix = Opcode.classOf(code) == Opcode.classALU ? "w" : "r"
        let dst = "\(prefix)\(instruction.dst)"
        if code & 0xf0 == 0xd0 {  // BPF_END
            let order = code & Opcode.sourceRegister != 0 ? "be" : "le"
            return "r\(instruction.dst) = \(order)\(instruction.immediate) r\(instruction.dst)"
        }
        guard let operation = ALUOperation(rawValue: code & 0xf0) else { return "(bad opcode 0x\(hex2(code)))" }
        if operation == .negate { return "\(dst) = -\(dst)" }
        let operand = code & Opcode.sourceRegister != 0 ? "\(prefix)\(instruction.src)" : "\(instruction.immediate)"
        return "\(dst) \(operation.symbol) \(operand)"
    }

    private static func jump(_ instruction: EBPFInstruction) -> String {
        let code = instruction.opcode
        switch code {
        case Opcode.exit: return "exit"
        case Opcode.call where instruction.src == Opcode.pseudoKernelFunctionCall:
            return "call kernel function btf#\(instruction.immediate)"
        case Opcode.call:
            let name = HelperFunction(rawValue: instruction.immediate).map { "bpf_\($0)#" } ?? "#"
            return "call \(name)\(instruction.immediate)"
        case Opcode.jumpAlways: return "goto \(signed(instruction.offset))"
        case Opcode.jumpAlwaysLong: return "gotol \(instruction.immediate < 0 ? "" : "+")\(instruction.immediate)"
        case Opcode.mayGoto: return "may_goto \(signed(instruction.offset))"
        default: break
        }
        guard let condition = JumpCondition(rawValue: code & 0xf0) else { return "(bad opcode 0x\(hex2(code)))" }
        let prefix = Opcode.classOf(code) == Opcode.classJump32 ? "w" : "r"
        let operand = code & Opcode.sourceRegister != 0
            ? "\(prefix)\(instruction.src)"
            : "0x\(String(UInt32(bitPattern: instruction.immediate), radix: 16))"
        return "if \(prefix)\(instruction.dst) \(condition.symbol) \(operand) goto \(signed(instruction.offset))"
    }

    private static func sizeName(_ code: UInt8) -> String {
        MemorySize(rawValue: code & 0x18)?.cName ?? "u?"
    }

    private static func signed(_ value: Int16) -> String { value < 0 ? "\(value)" : "+\(value)" }

    private static func hex2(_ value: UInt8) -> String {
        let digits = String(value, radix: 16)
        return digits.count < 2 ? "0" + digits : digits
    }
}

extension HelperFunction: CustomStringConvertible {
    public var description: String {
        switch self {
        case .mapLookupElement: "map_lookup_elem"
        case .skbVLANPush: "skb_vlan_push"
        case .skbVLANPop: "skb_vlan_pop"
        case .tailCall: "tail_call"
        case .skbPullData: "skb_pull_data"
        case .xdpAdjustHead: "xdp_adjust_head"
        case .skbLoadBytes: "skb_load_bytes"
        case .ktimeGetBootNanoseconds: "ktime_get_boot_ns"
        case .ringBufferReserve: "ringbuf_reserve"
        case .ringBufferSubmit: "ringbuf_submit"
        case .xdpGetBufferLength: "xdp_get_buff_len"
        case .xdpLoadBytes: "xdp_load_bytes"
        }
    }
}
