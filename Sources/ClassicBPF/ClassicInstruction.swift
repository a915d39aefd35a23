import FilterCompiler

/// One classic BPF instruction, laid out as `struct sock_filter` / libpcap's `struct bpf_insn`:
/// an opcode, two relative jump offsets for conditional jumps and a 32-bit operand.
public struct ClassicInstruction: Hashable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    /// The instruction class (the low three bits of the opcode).
    public var instructionClass: UInt16 { code & 0x07 }
}

/// The opcode fields of classic BPF (the values of `<linux/filter.h>` and `<pcap/bpf.h>`).
/// An opcode is the OR of a class and the fields that class uses.
public enum ClassicOpcode {
    // Classes.
    public static let ld: UInt16 = 0x00
    public static let ldx: UInt16 = 0x01
    public static let st: UInt16 = 0x02
    public static let stx: UInt16 = 0x03
    public static let alu: UInt16 = 0x04
    public static let jmp: UInt16 = 0x05
    public static let ret: UInt16 = 0x06
    public static let misc: UInt16 = 0x07

    // Load sizes.
    public static let word: UInt16 = 0x00
    public static let half: UInt16 = 0x08
    public static let byte: UInt16 = 0x10

    // Load modes.
    public static let imm: UInt16 = 0x00
    public static let abs: UInt16 = 0x20
    public static let ind: UInt16 = 0x40
    public static let mem: UInt16 = 0x60
    public static let len: UInt16 = 0x80
    public static let msh: UInt16 = 0xa0

    // ALU operations.
    public static let add: UInt16 = 0x00
    public static let sub: UInt16 = 0x10
    public static let mul: UInt16 = 0x20
    public static let div: UInt16 = 0x30
    public static let or: UInt16 = 0x40
    public static let and: UInt16 = 0x50
    public static let lsh: UInt16 = 0x60
    public static let rsh: UInt16 = 0x70
    public static let neg: UInt16 = 0x80
    public static let mod: UInt16 = 0x90
    public static let xor: UInt16 = 0xa0

    // Jump conditions.
    public static let ja: UInt16 = 0x00
    public static let jeq: UInt16 = 0x10
    public static let jgt: UInt16 = 0x20
    public static let jge: UInt16 = 0x30
    public static let jset: UInt16 = 0x40

    // Operand source for ALU and jumps; return value source for `ret`.
    public static let k: UInt16 = 0x00
    public static let x: UInt16 = 0x08
    public static let a: UInt16 = 0x10

    // Register moves.
    public static let tax: UInt16 = 0x00
    public static let txa: UInt16 = 0x80

    /// Absolute loads at `ancillaryBase + field` read the capturing kernel's packet metadata
    /// (Linux's SKF_AD_OFF).
    public static let ancillaryBase: UInt32 = 0xffff_f000

    /// Every opcode libpcap's `bpf_filter` executes (it aborts on any other).
    public static let known: Set<UInt16> = {
        var codes: Set<UInt16> = [
            ret | k, ret | a,
            ld | imm, ldx | imm, ld | word | len, ldx | word | len, ld | mem, ldx | mem, st, stx,
            ldx | byte | msh, alu | neg, misc | tax, misc | txa, jmp | ja,
        ]
        for size in [word, half, byte] {
            codes.insert(ld | size | abs)
            codes.insert(ld | size | ind)
        }
        for source in [k, x] {
            for operation in [add, sub, mul, div, mod, and, or, xor, lsh, rsh] { codes.insert(alu | operation | source) }
            for condition in [jeq, jgt, jge, jset] { codes.insert(jmp | condition | source) }
        }
        return codes
    }()

    /// Masks that pick a field out of an opcode.
    public static let sizeMask: UInt16 = 0x18
    public static let modeMask: UInt16 = 0xe0
    public static let operationMask: UInt16 = 0xf0
    public static let sourceMask: UInt16 = 0x08
    public static let returnSourceMask: UInt16 = 0x18
}

extension LoadWidth {
    /// The size field of a load opcode.
    public var classicSize: UInt16 {
        switch self {
        case .byte: ClassicOpcode.byte
        case .half: ClassicOpcode.half
        case .word: ClassicOpcode.word
        }
    }
}

extension AncillaryField {
    /// How wide a load libpcap makes of this field (`ldh [type]`, `ld [ifidx]`, `ldb [vlanp]`).
    public var loadWidth: LoadWidth {
        switch self {
        case .protocolNumber, .packetType, .vlanTag: .half
        case .interfaceIndex: .word
        case .vlanTagPresent: .byte
        }
    }
}

extension ArithmeticOperator {
    /// The operation field of an ALU opcode.
    public var classicOperation: UInt16 {
        switch self {
        case .add: ClassicOpcode.add
        case .subtract: ClassicOpcode.sub
        case .multiply: ClassicOpcode.mul
        case .divide: ClassicOpcode.div
        case .modulo: ClassicOpcode.mod
        case .and: ClassicOpcode.and
        case .or: ClassicOpcode.or
        case .xor: ClassicOpcode.xor
        case .shiftLeft: ClassicOpcode.lsh
        case .shiftRight: ClassicOpcode.rsh
        }
    }
}

extension Condition {
    /// The condition field of a jump opcode.
    public var classicCondition: UInt16 {
        switch self {
        case .equal: ClassicOpcode.jeq
        case .greater: ClassicOpcode.jgt
        case .greaterOrEqual: ClassicOpcode.jge
        case .bitsSet: ClassicOpcode.jset
        }
    }
}
