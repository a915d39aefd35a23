/// The intermediate representation shared by both back ends: a control-flow graph of blocks.
///
/// Each block is a straight run of statements on the two registers of the filter machine
/// (the accumulator A and the index X) plus a scratch memory M[0..15], ending in a two-way
/// branch on A or in a verdict. The statements are exactly the non-jump operations of classic
/// BPF, so the classic back end prints them one for one and the eBPF back end maps A, X and M
/// onto eBPF registers and stack slots. A packet load past the end of the packet makes the
/// whole filter reject (classic BPF's rule); the eBPF back end turns that into "no match".

/// Index of a block in `FilterProgram.blocks`.
public typealias BlockID = Int

/// How many bytes a packet load reads (big-endian).
public enum LoadWidth: UInt8, Hashable, Sendable, CaseIterable {
    case byte = 1
    case half = 2
    case word = 4
}

/// The arithmetic and logic operations of the filter machine, applied as `A = A op operand`.
public enum ArithmeticOperator: Hashable, Sendable, CaseIterable {
    case add, subtract, multiply, divide, modulo, and, or, xor, shiftLeft, shiftRight
}

/// The right-hand side of an arithmetic operation or a comparison.
public enum Operand: Hashable, Sendable {
    case constant(UInt32)
    case x
}

/// One straight-line operation.
public enum Statement: Hashable, Sendable {
    /// A = packet[offset ..< offset+width]                     (`ld`/`ldh`/`ldb [k]`)
    case loadPacket(LoadWidth, offset: UInt32)
    /// A = packet[X+offset ..< X+offset+width]                 (`ld`/`ldh`/`ldb [x + k]`)
    case loadPacketIndexed(LoadWidth, offset: UInt32)
    /// A = constant                                            (`ld #k`)
    case loadConstant(UInt32)
    /// A = length of the packet on the wire                    (`ld #pktlen`)
    case loadLength
    /// A = M[slot]                                             (`ld M[k]`)
    case loadScratch(Int)
    /// X = constant                                            (`ldx #k`)
    case loadXConstant(UInt32)
    /// X = length of the packet on the wire                    (`ldx #pktlen`)
    case loadXLength
    /// X = M[slot]                                             (`ldx M[k]`)
    case loadXScratch(Int)
    /// X = 4 * (packet[offset] & 0x0f), the IPv4 header length (`ldxb 4*([k]&0xf)`)
    case loadXHeaderLength(offset: UInt32)
    /// M[slot] = A                                             (`st M[k]`)
    case storeA(Int)
    /// M[slot] = X                                             (`stx M[k]`)
    case storeX(Int)
    /// A = A op operand                                        (`add #k`, `and x`, ...)
    case arithmetic(ArithmeticOperator, Operand)
    /// A = -A                                                  (`neg`)
    case negate
    /// X = A                                                   (`tax`)
    /// `leftover` is the k field classic BPF carries and ignores here: libpcap's optimizer,
    /// turning `ldx M[k]` into `tax`, leaves the slot number in it, and `-dd` prints it.
    case moveAToX(leftover: UInt32 = 0)
    /// A = X                                                   (`txa`)
    case moveXToA
    /// A = metadata the capturing kernel keeps beside the packet (`ld [type]`, ...)
    case loadAncillary(AncillaryField)
}

/// Packet metadata that Linux's classic BPF reads at magic offsets (SKF_AD_*), which libpcap
/// uses for `inbound`/`outbound`, `ifindex` and VLAN tags taken out of the frame by the kernel.
public enum AncillaryField: UInt32, Hashable, Sendable, CaseIterable {
    case protocolNumber = 0     // SKF_AD_PROTOCOL, printed `proto`
    case packetType = 4         // SKF_AD_PKTTYPE, printed `type`
    case interfaceIndex = 8     // SKF_AD_IFINDEX, printed `ifidx`
    case vlanTag = 44           // SKF_AD_VLAN_TAG, printed `vlan_tci`
    case vlanTagPresent = 48    // SKF_AD_VLAN_TAG_PRESENT, printed `vlanp`
}

/// The comparisons a branch can make between A and its operand (all unsigned).
public enum Condition: Hashable, Sendable, CaseIterable {
    /// A == operand (`jeq`)
    case equal
    /// A > operand (`jgt`)
    case greater
    /// A >= operand (`jge`)
    case greaterOrEqual
    /// A & operand != 0 (`jset`)
    case bitsSet

    /// Whether `a condition operand` holds: the branch is taken.
    public func holds(_ a: UInt32, _ operand: UInt32) -> Bool {
        switch self {
        case .equal: return a == operand
        case .greater: return a > operand
        case .greaterOrEqual: return a >= operand
        case .bitsSet: return a & operand != 0
        }
    }
}

/// How a block ends.
public enum Terminator: Hashable, Sendable {
    /// Compare A with the operand and continue at one of two blocks.
    case branch(Condition, Operand, ifTrue: BlockID, ifFalse: BlockID)
    /// Continue at another block unconditionally (`ja`). `protochain` uses it to walk IPv6
    /// extension headers in a loop (the one place where the graph has a cycle), and both
    /// `protochain` and `geneve` to continue at the block laid out right after (no `ja` then).
    case jump(BlockID)
    /// Stop: accept `snapLength` bytes of the packet, or reject when it is 0 (`ret #k`).
    case verdict(UInt32)
}

public struct Block: Hashable, Sendable {
    public var statements: [Statement]
    public var terminator: Terminator

    public init(statements: [Statement] = [], terminator: Terminator) {
        self.statements = statements
        self.terminator = terminator
    }

    /// The blocks this one can continue at: the true then the false arm of a branch, a jump's
    /// target, none after a verdict.
    public var successors: Successors {
        switch terminator {
        case let .branch(_, _, t, f): return Successors(t, f, count: 2)
        case let .jump(target): return Successors(target, target, count: 1)
        case .verdict: return Successors(0, 0, count: 0)
        }
    }
}

/// A block's successors as a collection that needs no array (graph walks ask for them often).
public struct Successors: RandomAccessCollection, Hashable, Sendable {
    private let first: BlockID
    private let second: BlockID
    public let count: Int

    init(_ first: BlockID, _ second: BlockID, count: Int) {
        self.first = first
        self.second = second
        self.count = count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> BlockID {
        precondition(position >= 0 && position < count, "successor index out of range")
        return position == 0 ? first : second
    }
}

/// One arm of a block's branch: the block and whether it is the true arm (the code generator
/// keeps the arms of a sub-expression still to be connected).
struct BranchArm: Hashable, Sendable {
    var block: BlockID
    var onTrue: Bool
}

/// A whole filter: blocks and the one where execution starts. Blocks not reachable from
/// `entry` are ignored by every consumer. The graph is acyclic except for `protochain`'s loop.
public struct FilterProgram: Hashable, Sendable {
    public var blocks: [Block]
    public var entry: BlockID

    public init(blocks: [Block], entry: BlockID) {
        self.blocks = blocks
        self.entry = entry
    }

    /// The number of scratch memory slots of the filter machine.
    public static let scratchSlots = 16
}
