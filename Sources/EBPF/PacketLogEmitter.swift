/// The drop log's half in the program: after a decision is counted, a copy of the frame goes to
/// a ring buffer, but only while a logger has switched it on.
///
/// Three maps, named by `PacketLogMaps`:
/// - the switch, an array map of one `PacketLogSwitch` value the logger writes. The program reads
///   its first word straight from the map's memory (an ld_imm64 of the value's address, no
///   lookup call), so with no logger the whole cost is that load and one conditional jump;
/// - a per-CPU token bucket (`PacketLogBucket`): `rate` records a second per CPU, bursts of up
///   to one second's worth, so a flood costs the datapath one time read and a few instructions
///   per packet beyond the rate;
/// - the ring buffer the records (`PacketLogRecord`) go to; when the reader falls behind and it
///   is full, the reservation fails and the record is dropped.
public enum PacketLogEmitter {
    /// Code reached after the counting code with the counter slot in
    /// `MachineLayout.accumulator` and the return code in `MachineLayout.index`; it ends at
    /// `returning` (the epilogue). The context must have been saved at `MachineLayout.contextSlot`.
    static func emit(maps: PacketLogMaps, hook: any HookContext, returning: Label, into asm: inout Assembler) {
        let slot = MachineLayout.accumulator, verdict = MachineLayout.index
        let rate = MachineLayout.data, record = MachineLayout.dataEnd
        let second = Int32(PacketLogBucket.creditPerRecord)
        let rule = asm.newLabel("log.rule"), oneRule = asm.newLabel("log.onerule"), bucket = asm.newLabel("log.bucket")
        let elapsed = asm.newLabel("log.elapsed"), capped = asm.newLabel("log.capped"), take = asm.newLabel("log.take")
        let length = asm.newLabel("log.length"), submit = asm.newLabel("log.submit")
        asm.loadMapValue(.r1, named: maps.switchMap)
        asm.load(.word, .r2, from: .r1, offset: 0)
        asm.jump(if: .equal, .r2, 0, to: returning)
        // On: drops only, unless every decision is wanted; one rule only when asked.
        asm.jump(if: .bitsSet, .r2, Int32(PacketLogSwitch.everyVerdict), to: rule)
        asm.jump(if: .notEqual, verdict, hook.returnCode(for: .drop), to: returning)
        asm.label(rule)
        asm.jump(if: .bitsSet, .r2, Int32(PacketLogSwitch.oneRule), to: oneRule)
        asm.jump(to: bucket)
        asm.label(oneRule)
        asm.load(.word, .r3, from: .r1, offset: 4)
        asm.jump(if: .notEqual, .r3, slot, to: returning)
        // Token bucket: credit in nanosecond-records, `rate` per nanosecond elapsed (at most a
        // second's worth), one record costs a second of credit.
        asm.label(bucket)
        asm.load(.double, rate, from: .r1, offset: 8)
        asm.call(.ktimeGetBootNanoseconds)
        asm.store(.double, to: .r10, offset: MachineLayout.logTimeSlot, from: .r0)
        asm.store(.double, to: .r10, offset: MachineLayout.logKeySlot, immediate: 0)
        asm.loadMap(.r1, named: maps.bucketMap)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(MachineLayout.logKeySlot))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: returning)
        asm.load(.double, .r2, from: .r10, offset: MachineLayout.logTimeSlot)
        asm.load(.double, .r3, from: .r0, offset: 0)
        asm.store(.double, to: .r0, offset: 0, from: .r2)
        asm.alu(.subtract, .r2, .r3)
        asm.jump(if: .lessOrEqual, .r2, second, to: elapsed)
        asm.move(.r2, second)
        asm.label(elapsed)
        asm.alu(.multiply, .r2, rate)
        asm.load(.double, .r3, from: .r0, offset: 8)
        asm.add(.r3, .r2)
        asm.move(.r4, rate)
        asm.alu(.multiply, .r4, second)
        asm.jump(if: .lessOrEqual, .r3, .r4, to: capped)
        asm.move(.r3, .r4)
        asm.label(capped)
        asm.jump(if: .greaterOrEqual, .r3, second, to: take)
        asm.store(.double, to: .r0, offset: 8, from: .r3)
        asm.jump(to: returning)
        asm.label(take)
        asm.add(.r3, -second)
        asm.store(.double, to: .r0, offset: 8, from: .r3)
        // The record: header, then the frame's first bytes.
        asm.loadMap(.r1, named: maps.ringMap)
        asm.move(.r2, Int32(PacketLogRecord.size))
        asm.move(.r3, 0)
        asm.call(.ringBufferReserve)
        asm.jump(if: .equal, .r0, 0, to: returning)
        asm.move(record, .r0)
        asm.load(.double, .r1, from: .r10, offset: MachineLayout.logTimeSlot)
        asm.store(.double, to: record, offset: PacketLogRecord.timeOffset, from: .r1)
        asm.store(.word, to: record, offset: PacketLogRecord.slotOffset, from: slot)
        asm.store(.word, to: record, offset: PacketLogRecord.returnCodeOffset, from: verdict)
        asm.load(.word, .r4, from: .r10, offset: MachineLayout.lengthSlot)
        asm.store(.word, to: record, offset: PacketLogRecord.wireLengthOffset, from: .r4)
        asm.jump(if: .lessOrEqual, .r4, Int32(PacketLogRecord.frameBytes), to: length)
        asm.move(.r4, Int32(PacketLogRecord.frameBytes))
        asm.label(length)
        asm.store(.word, to: record, offset: PacketLogRecord.capturedLengthOffset, from: .r4)
        asm.jump(if: .equal, .r4, 0, to: submit)
        asm.reloadContext()
        asm.move(.r2, 0)
        asm.move(.r3, record)
        asm.add(.r3, Int32(PacketLogRecord.headerSize))
        asm.call(hook.frameCopy)
        asm.jump(if: .equal, .r0, 0, to: submit)
        asm.store(.word, to: record, offset: PacketLogRecord.capturedLengthOffset, immediate: 0)
        asm.label(submit)
        asm.move(.r1, record)
        asm.move(.r2, 0)
        asm.call(.ringBufferSubmit)
    }
}

/// The names the programs of a ruleset use for the log's maps (resolved at load):
/// PREFIX_switch, PREFIX_bucket and PREFIX_ring.
public struct PacketLogMaps: Hashable, Sendable {
    public let prefix: String
    init(prefix: String) { self.prefix = prefix }

    public var switchMap: MapName { MapName(prefix + "_switch") }
    public var bucketMap: MapName { MapName(prefix + "_bucket") }
    public var ringMap: MapName { MapName(prefix + "_ring") }
    public var all: [MapName] { [switchMap, bucketMap, ringMap] }

    /// The names a ruleset's programs use (`log_switch`...); they are also the maps' pin
    /// entries, beside the counters (`xdpfw log` finds them there).
    public static let standard = PacketLogMaps(prefix: "log")
}

/// The value of the switch map (one entry, 16 bytes): `flags` (u32, 0: off), the counter slot
/// of the one rule to log (u32, with `oneRule`), the rate in records per second per CPU (u64).
public struct PacketLogSwitch: Hashable, Sendable {
    /// Logging is on (drops only, unless `everyVerdict`).
    public static let on: UInt32 = 1
    /// Every decision, passes too.
    public static let everyVerdict: UInt32 = 2
    /// Only the rule whose counter slot is `slot`.
    public static let oneRule: UInt32 = 4
    public static let size = 16

    public var flags: UInt32
    public var slot: UInt32
    public var rate: UInt64

    public init(flags: UInt32, slot: UInt32 = 0, rate: UInt64) {
        self.flags = flags
        self.slot = slot
        self.rate = rate
    }

    public static let off = PacketLogSwitch(flags: 0, rate: 0)

    /// The largest rate the bucket's arithmetic holds (capacity = rate × 10⁹ in a u64).
    public static let maximumRate: UInt64 = 1_000_000_000

    public var bytes: [UInt8] {
        withUnsafeBytes(of: flags.littleEndian) { Array($0) } + withUnsafeBytes(of: slot.littleEndian) { Array($0) }
            + withUnsafeBytes(of: rate.littleEndian) { Array($0) }
    }
}

/// The value of the per-CPU bucket map (one entry, 16 bytes): the time of the last logged
/// decision (u64 ns, boot clock) and the credit (u64, `creditPerRecord` a record).
public enum PacketLogBucket {
    public static let size = 16
    public static let creditPerRecord: UInt64 = 1_000_000_000
}

/// One record of the ring buffer, as the program writes it (little-endian).
public struct PacketLogRecord: Hashable, Sendable {
    static let timeOffset: Int16 = 0
    static let slotOffset: Int16 = 8
    static let returnCodeOffset: Int16 = 12
    static let wireLengthOffset: Int16 = 16
    static let capturedLengthOffset: Int16 = 20
    public static let headerSize = 24
    /// The frame bytes a record keeps at most.
    public static let frameBytes = 256
    public static let size = headerSize + frameBytes

    /// CLOCK_BOOTTIME of the decision, in nanoseconds.
    public var bootTimeNanoseconds: UInt64
    /// The counter slot that decided (0: the policy; rule index + 1).
    public var slot: UInt32
    /// The program's return code (`HookContext.returnCode(for:)`).
    public var returnCode: UInt32
    /// The frame length the hook saw (`len`).
    public var wireLength: UInt32
    /// The first bytes of the frame (at most `frameBytes`).
    public var frame: [UInt8]

    public init(bootTimeNanoseconds: UInt64, slot: UInt32, returnCode: UInt32, wireLength: UInt32, frame: [UInt8]) {
        self.bootTimeNanoseconds = bootTimeNanoseconds
        self.slot = slot
        self.returnCode = returnCode
        self.wireLength = wireLength
        self.frame = frame
    }

    /// Reads a record as the ring buffer hands it over; nil when it is too short.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= Self.headerSize else { return nil }
        func word(_ at: Int, _ count: Int) -> UInt64 {
            (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
        let captured = min(Int(word(Int(Self.capturedLengthOffset), 4)), bytes.count - Self.headerSize, Self.frameBytes)
        self.init(bootTimeNanoseconds: word(0, 8), slot: UInt32(word(8, 4)), returnCode: UInt32(word(12, 4)),
                  wireLength: UInt32(word(16, 4)), frame: Array(bytes[Self.headerSize ..< Self.headerSize + captured]))
    }
}
