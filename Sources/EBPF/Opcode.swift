/// The eBPF instruction set's numbers, in one place (linux/bpf.h, linux/bpf_common.h).
///
/// An opcode byte is `class | size | mode` for loads and stores, `class | operation | source`
/// for arithmetic and jumps. The enums below name the parts; `Opcode` holds the raw classes.
public enum Opcode {
    // Instruction classes (low three bits).
    public static let classLoad: UInt8 = 0x00        // BPF_LD (only ld_imm64 is used in eBPF)
    public static let classLoadX: UInt8 = 0x01       // BPF_LDX: dst = *(size *)(src + off)
    public static let classStore: UInt8 = 0x02       // BPF_ST:  *(size *)(dst + off) = imm
    public static let classStoreX: UInt8 = 0x03      // BPF_STX: *(size *)(dst + off) = src
    public static let classALU: UInt8 = 0x04         // BPF_ALU: 32-bit arithmetic, zero-extends
    public static let classJump: UInt8 = 0x05        // BPF_JMP: 64-bit compares
    public static let classJump32: UInt8 = 0x06      // BPF_JMP32: compares the low 32 bits
    public static let classALU64: UInt8 = 0x07       // BPF_ALU64

    // Load/store mode (top three bits).
    public static let modeImmediate: UInt8 = 0x00    // BPF_IMM (with size DW: ld_imm64)
    public static let modeMemory: UInt8 = 0x60       // BPF_MEM

    // Operand source for arithmetic and jumps.
    public static let sourceImmediate: UInt8 = 0x00  // BPF_K
    public static let sourceRegister: UInt8 = 0x08   // BPF_X

    /// `BPF_END` with `BPF_TO_BE`: byte swap to big-endian on a little-endian machine.
    public static let endianToBig: UInt8 = 0xd0 | 0x08 | classALU

    /// `lddw`: the first slot of the two-slot 64-bit immediate load.
    public static let loadImmediate64: UInt8 = classLoad | MemorySize.double.rawValue | modeImmediate
    /// `src` of an ld_imm64 whose immediate is a map file descriptor (BPF_PSEUDO_MAP_FD).
    public static let pseudoMapFD: UInt8 = 1
    /// `src` of an ld_imm64 that loads the address of a map's value directly: the first slot's
    /// immediate is the map's file descriptor, the second's the offset into the (array) map's
    /// first value (BPF_PSEUDO_MAP_VALUE). No lookup call: what a C global variable compiles to.
    public static let pseudoMapValue: UInt8 = 2
    /// A call's source register when its immediate is a kernel function's BTF id (a kfunc).
    public static let pseudoKernelFunctionCall: UInt8 = 2

    public static let call: UInt8 = classJump | 0x80            // BPF_CALL
    public static let exit: UInt8 = classJump | 0x90            // BPF_EXIT
    public static let jumpAlways: UInt8 = classJump | 0x00      // BPF_JA
    /// `gotol` (BPF_JMP32 | BPF_JA, kernel 6.4+): an unconditional jump whose offset is the
    /// 32-bit immediate, for targets beyond the ±32767 instructions of the offset field.
    public static let jumpAlwaysLong: UInt8 = classJump32 | 0x00
    /// `may_goto` (BPF_JCOND with src BPF_MAY_GOTO, kernel 6.9+): falls through until a hidden
    /// per-run budget is spent, then jumps. The verifier treats loops through it as converging
    /// when an iteration's state repeats, instead of walking every iteration.
    public static let mayGoto: UInt8 = classJump | 0xe0

    public static func classOf(_ opcode: UInt8) -> UInt8 { opcode & 0x07 }
}

/// The helper functions the generated programs call (enum bpf_func_id).
public enum HelperFunction: Int32, Sendable {
    case mapLookupElement = 1       // bpf_map_lookup_elem
    case tailCall = 12              // bpf_tail_call
    case skbVLANPush = 18           // bpf_skb_vlan_push
    case skbVLANPop = 19            // bpf_skb_vlan_pop
    case skbPullData = 39           // bpf_skb_pull_data
    case xdpAdjustHead = 44         // bpf_xdp_adjust_head
    case skbLoadBytes = 26          // bpf_skb_load_bytes
    case ktimeGetBootNanoseconds = 125   // bpf_ktime_get_boot_ns
    case ringBufferReserve = 131    // bpf_ringbuf_reserve
    case ringBufferSubmit = 132     // bpf_ringbuf_submit
    case xdpGetBufferLength = 188   // bpf_xdp_get_buff_len
    case xdpLoadBytes = 189         // bpf_xdp_load_bytes
}

public enum Register: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case r0 = 0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10

    /// The read-only frame pointer.
    public static let framePointer = Register.r10
    public var description: String { "r\(rawValue)" }
}

/// Width of a load or store (the BPF_SIZE bits).
public enum MemorySize: UInt8, CaseIterable, Hashable, Sendable {
    case word = 0x00, half = 0x08, byte = 0x10, double = 0x18

    public var bytes: Int {
        switch self { case .byte: 1; case .half: 2; case .word: 4; case .double: 8 }
    }
    public var cName: String { "u\(bytes * 8)" }
}

/// 32-bit (`w` registers, result zero-extended) or 64-bit arithmetic.
public enum ALUWidth: Hashable, Sendable {
    case bits32, bits64
    var instructionClass: UInt8 { self == .bits32 ? Opcode.classALU : Opcode.classALU64 }
}

/// Arithmetic operations (the BPF_OP bits of ALU classes).
public enum ALUOperation: UInt8, CaseIterable, Hashable, Sendable {
    case add = 0x00, subtract = 0x10, multiply = 0x20, divide = 0x30, or = 0x40, and = 0x50
    case shiftLeft = 0x60, shiftRight = 0x70, negate = 0x80, modulo = 0x90, xor = 0xa0
    case move = 0xb0, arithmeticShiftRight = 0xc0

    /// The C operator the verifier's listing uses (`r1 += r2`).
    public var symbol: String {
        switch self {
        case .add: "+="; case .subtract: "-="; case .multiply: "*="; case .divide: "/="
        case .or: "|="; case .and: "&="; case .shiftLeft: "<<="; case .shiftRight: ">>="
        case .negate: "= -"; case .modulo: "%="; case .xor: "^="; case .move: "="
        case .arithmeticShiftRight: "s>>="
        }
    }
}

/// Conditional jump operations (the BPF_OP bits of jump classes). Unsigned unless named signed.
public enum JumpCondition: UInt8, CaseIterable, Hashable, Sendable {
    case equal = 0x10, greater = 0x20, greaterOrEqual = 0x30, bitsSet = 0x40, notEqual = 0x50
    case signedGreater = 0x60, signedGreaterOrEqual = 0x70
    case less = 0xa0, lessOrEqual = 0xb0, signedLess = 0xc0, signedLessOrEqual = 0xd0

    public var symbol: String {
        switch self {
        case .equal: "=="; case .greater: ">"; case .greaterOrEqual: ">="; case .bitsSet: "&"
        case .notEqual: "!="; case .signedGreater: "s>"; case .signedGreaterOrEqual: "s>="
        case .less: "<"; case .lessOrEqual: "<="; case .signedLess: "s<"; case .signedLessOrEqual: "s<="
        }
    }

    /// The condition that holds exactly when this one does not (`bitsSet` has none).
    public var negated: JumpCondition? {
        switch self {
        case .equal: .notEqual; case .notEqual: .equal
        case .greater: .lessOrEqual; case .lessOrEqual: .greater
        case .greaterOrEqual: .less; case .less: .greaterOrEqual
        case .signedGreater: .signedLessOrEqual; case .signedLessOrEqual: .signedGreater
        case .signedGreaterOrEqual: .signedLess; case .signedLess: .signedGreaterOrEqual
        case .bitsSet: nil
        }
    }
}
