import FilterCompiler

/// How far into a packet a program's filters can read: one past the furthest byte any of its
/// packet loads can touch, or `nil` when that is not known in advance (an index register that
/// comes from a loop, the frame length or arbitrary arithmetic).
///
/// A socket buffer keeps only its head linear; at TC the program sees that head and nothing
/// beyond (`data_end`). `SocketBufferPull` makes the reach of the rules linear before they run.
public struct PacketReach: Hashable, Sendable {
    /// One past the furthest byte, or nil: the whole packet.
    public var bytes: UInt32?

    public init(bytes: UInt32?) { self.bytes = bytes }

    public static let wholePacket = PacketReach(bytes: nil)
    public static let nothing = PacketReach(bytes: 0)

    /// The furthest of both.
    public func union(_ other: PacketReach) -> PacketReach {
        guard let mine = bytes, let theirs = other.bytes else { return .wholePacket }
        return PacketReach(bytes: max(mine, theirs))
    }

    /// What a lookup group reads (LookupEmitter): the Ethernet type, addresses at fixed offsets
    /// and a port after the IPv4 header, so at most Ethernet + the longest IPv4 header + the
    /// transport ports (14 + 60 + 4). Kept generous: pulling a few more header bytes costs nothing.
    public static let lookupGroup = PacketReach(bytes: 128)

    /// The reach of a ruleset's segments.
    public init(segments: [RulesetSegment]) {
        self = segments.reduce(PacketReach.nothing) { reach, segment in
            switch segment {
            case let .filter(filter, _, _): reach.union(PacketReach(filter: filter))
            case .lookup, .classifier: reach.union(.lookupGroup)
            }
        }
    }

    /// The reach of one filter. Indexed loads need an upper bound of X, found by a
    /// flow-insensitive pass over every statement: each register and scratch slot is bounded by
    /// the largest value any statement can put there (X starts at 0). libpcap's filters index
    /// by an IPv4 header length (at most 60) or by constants, which this bounds; anything else
    /// gives up and asks for the whole packet.
    public init(filter: FilterProgram) {
        let statements = filter.blocks.flatMap(\.statements)
        let bounds = RegisterBounds(statements)
        var furthest: UInt64 = 0
        for statement in statements {
            switch statement {
            case let .loadPacket(width, offset):
                furthest = max(furthest, UInt64(offset) + UInt64(width.rawValue))
            case let .loadPacketIndexed(width, offset):
                furthest = max(furthest, bounds.x + UInt64(offset) + UInt64(width.rawValue))
            case let .loadXHeaderLength(offset):
                furthest = max(furthest, UInt64(offset) + 1)
            default:
                break
            }
        }
        // The verifier tracks packet offsets up to 0xffff, so loads beyond never match anyway.
        self = furthest > RegisterBounds.unbounded ? .wholePacket : PacketReach(bytes: UInt32(furthest))
    }
}

/// Upper bounds of A, X and M[] over every statement of a filter, `unbounded` for anything that
/// can reach beyond the offsets a packet load can.
private struct RegisterBounds {
    static let unbounded: UInt64 = 0x10000
    var a: UInt64 = 0
    var x: UInt64 = 0
    var scratch = [UInt64](repeating: 0, count: FilterProgram.scratchSlots)

    init(_ statements: [Statement]) {
        // Every round can only raise bounds, so the bounds hold once a round changes nothing;
        // a loop that keeps adding (protochain's) may not settle soon: then nothing is bounded.
        for _ in 0..<32 {
            let before = self
            for statement in statements { apply(statement) }
            if before.a == a && before.x == x && before.scratch == scratch { return }
        }
        a = Self.unbounded
        x = Self.unbounded
    }

    private static func maximum(_ width: LoadWidth) -> UInt64 {
        switch width { case .byte: 0xff; case .half: 0xffff; case .word: unbounded }
    }

    private static func capped(_ value: UInt64) -> UInt64 { min(value, unbounded) }

    private func value(_ operand: Operand) -> UInt64 {
        switch operand { case let .constant(k): UInt64(k); case .x: x }
    }

    private mutating func apply(_ statement: Statement) {
        switch statement {
        case let .loadPacket(width, _), let .loadPacketIndexed(width, _):
            a = max(a, Self.maximum(width))
        case let .loadConstant(k): a = max(a, Self.capped(UInt64(k)))
        case .loadLength: a = Self.unbounded
        case let .loadScratch(slot) where scratch.indices.contains(slot): a = max(a, scratch[slot])
        case .loadScratch: a = Self.unbounded
        case let .loadXConstant(k): x = max(x, Self.capped(UInt64(k)))
        case .loadXLength: x = Self.unbounded
        case let .loadXScratch(slot) where scratch.indices.contains(slot): x = max(x, scratch[slot])
        case .loadXScratch: x = Self.unbounded
        case .loadXHeaderLength: x = max(x, 60)
        case let .storeA(slot) where scratch.indices.contains(slot): scratch[slot] = max(scratch[slot], a)
        case let .storeX(slot) where scratch.indices.contains(slot): scratch[slot] = max(scratch[slot], x)
        case .storeA, .storeX: break
        case let .arithmetic(operation, operand): a = max(a, bound(of: operation, operand))
        case .negate: a = Self.unbounded
        case .moveAToX: x = max(x, a)
        case .moveXToA: a = max(a, x)
        case .loadAncillary: a = Self.unbounded
        }
    }

    /// An upper bound of `A op operand` given the bounds of A and the operand (32-bit wrap-around
    /// and subtraction can give anything).
    private func bound(of operation: ArithmeticOperator, _ operand: Operand) -> UInt64 {
        let right = value(operand)
        switch operation {
        case .add: return Self.capped(a + right)
        case .multiply: return a == 0 || right == 0 ? 0 : Self.capped(a * right)
        case .divide: return a
        case .modulo: return right == 0 ? a : min(a, right - 1)
        case .and: return min(a, right)
        case .or, .xor:
            let widest = max(a, right)
            return widest == 0 ? 0 : Self.capped((UInt64(1) << (64 - UInt64(widest.leadingZeroBitCount))) - 1)
        case .shiftRight:
            if case let .constant(k) = operand { return k >= 32 ? 0 : a >> UInt64(k) }
            return a
        case .shiftLeft:
            if case let .constant(k) = operand { return k >= 32 ? 0 : Self.capped(a << UInt64(min(k, 17))) }
            return Self.unbounded
        case .subtract:
            return Self.unbounded
        }
    }
}
