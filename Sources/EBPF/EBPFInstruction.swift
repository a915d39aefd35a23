/// One eBPF instruction slot, the kernel's `struct bpf_insn`:
/// `{ u8 code; u8 dst_reg:4; u8 src_reg:4; s16 off; s32 imm; }`.
///
/// A 64-bit immediate load (`ld_imm64`) takes two slots: the first carries the low 32 bits in
/// `immediate`, the second (opcode 0) the high 32 bits. A program is an array of slots, so
/// jump offsets count slots exactly as the kernel does. An ld_imm64 that refers to a map by
/// name keeps the name in `mapReference` until `resolveMaps` puts the file descriptor in.
public struct EBPFInstruction: Hashable, Sendable {
    public var opcode: UInt8
    public var dst: UInt8
    public var src: UInt8
    public var offset: Int16
    public var immediate: Int32
    /// The map this ld_imm64 loads, by name; not part of the encoding.
    public var mapReference: MapName?

    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0,
                mapReference: MapName? = nil) {
        self.opcode = opcode
        self.dst = dst & 0x0f
        self.src = src & 0x0f
        self.offset = offset
        self.immediate = immediate
        self.mapReference = mapReference
    }

    /// The slot as it sits in memory on a little-endian machine, read as one 64-bit word:
    /// `code | dst << 8 | src << 12 | off << 16 | imm << 32`.
    public var encoded: UInt64 {
        UInt64(opcode)
            | UInt64(dst & 0x0f) << 8
            | UInt64(src & 0x0f) << 12
            | UInt64(UInt16(bitPattern: offset)) << 16
            | UInt64(UInt32(bitPattern: immediate)) << 32
    }

    /// The inverse of `encoded` (the map name is not part of the encoding).
    public init(encoded word: UInt64) {
        self.init(opcode: UInt8(truncatingIfNeeded: word),
                  dst: UInt8(truncatingIfNeeded: word >> 8) & 0x0f,
                  src: UInt8(truncatingIfNeeded: word >> 12) & 0x0f,
                  offset: Int16(bitPattern: UInt16(truncatingIfNeeded: word >> 16)),
                  immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: word >> 32)))
    }

    public var isLoadImmediate64: Bool { opcode == Opcode.loadImmediate64 }

    /// The two slots of `dst = value` (ld_imm64).
    public static func loadImmediate64(_ dst: Register, _ value: UInt64) -> [EBPFInstruction] {
        [EBPFInstruction(opcode: Opcode.loadImmediate64, dst: dst.rawValue,
                         immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value))),
         EBPFInstruction(opcode: 0, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32)))]
    }

    /// The two slots of `dst = &value + offset`, the address of the first value of the array map
    /// called `name`; the fd is filled in by `resolveMaps`.
    public static func loadMapValue(_ dst: Register, named name: MapName, offset: Int32 = 0) -> [EBPFInstruction] {
        [EBPFInstruction(opcode: Opcode.loadImmediate64, dst: dst.rawValue, src: Opcode.pseudoMapValue,
                         mapReference: name),
         EBPFInstruction(opcode: 0, immediate: offset)]
    }

    /// The two slots of `dst = map` for the map called `name`; the fd is filled in by `resolveMaps`.
    public static func loadMap(_ dst: Register, named name: MapName) -> [EBPFInstruction] {
        [EBPFInstruction(opcode: Opcode.loadImmediate64, dst: dst.rawValue, src: Opcode.pseudoMapFD,
                         mapReference: name),
         EBPFInstruction(opcode: 0)]
    }
}

/// Why a program could not be assembled or linked.
public struct AssemblerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Array where Element == EBPFInstruction {
    /// The names of the maps the program refers to.
    public var mapReferences: Set<MapName> { Set(compactMap(\.mapReference)) }

    /// Puts each referenced map's file descriptor into its ld_imm64. Every reference must be
    /// given; the names stay so the listing can still show them.
    public mutating func resolveMaps(_ fileDescriptors: [MapName: Int32]) throws(AssemblerError) {
        for index in indices {
            guard let name = self[index].mapReference else { continue }
            guard let fd = fileDescriptors[name] else {
                throw AssemblerError("instruction \(index) refers to map '\(name)', which was not given")
            }
            self[index].immediate = fd
        }
    }

    /// The program as the kernel takes it (`struct bpf_insn[]`), one word per slot.
    public var encoded: [UInt64] { map(\.encoded) }
}
