/// A set of machine locations as bits: scratch slots 0–15, then A and X.
struct LocationSet: Equatable {
    var bits: UInt32 = 0

    static let a = LocationSet(bits: 1 << 16)
    static let x = LocationSet(bits: 1 << 17)
    static func scratch(_ slot: Int) -> LocationSet { LocationSet(bits: 1 << UInt32(slot)) }

    func contains(_ other: LocationSet) -> Bool { bits & other.bits != 0 }
    func union(_ other: LocationSet) -> LocationSet { LocationSet(bits: bits | other.bits) }
    func subtracting(_ other: LocationSet) -> LocationSet { LocationSet(bits: bits & ~other.bits) }

    init(bits: UInt32 = 0) { self.bits = bits }

    init(_ location: Location) {
        switch location {
        case .a: self = .a
        case .x: self = .x
        case let .scratch(slot): self = .scratch(slot)
        }
    }
}

extension Statement {
    /// The one location the statement writes.
    var definition: LocationSet {
        switch self {
        case .loadPacket, .loadPacketIndexed, .loadConstant, .loadLength, .loadScratch, .loadAncillary,
             .arithmetic, .negate, .moveXToA:
            return .a
        case .loadXConstant, .loadXLength, .loadXScratch, .loadXHeaderLength, .moveAToX:
            return .x
        case let .storeA(slot), let .storeX(slot):
            return .scratch(slot)
        }
    }

    /// The locations the statement reads.
    var uses: LocationSet {
        switch self {
        case .loadPacket, .loadConstant, .loadLength, .loadAncillary, .loadXConstant, .loadXLength,
             .loadXHeaderLength:
            return LocationSet()
        case .loadPacketIndexed, .moveXToA, .storeX:
            return .x
        case let .loadScratch(slot), let .loadXScratch(slot):
            return .scratch(slot)
        case .storeA, .negate, .moveAToX, .arithmetic(_, .constant):
            return .a
        case .arithmetic(_, .x):
            return LocationSet.a.union(.x)
        }
    }
}

extension Block {
    /// The registers the ending reads. A branch whose arms agree reads nothing, with three
    /// exceptions that keep libpcap's shapes (and its verdicts on short packets): at the entry
    /// (the statements are carried into the block the program then starts with, see
    /// `FlowGraph.startPastIdleTests`), once constants fold (`foldsConstants`: a test decided
    /// then keeps its block, loads included, as libpcap's dead-store pass still counts the
    /// branch as a reader), and after a constant load in the same block (a decided test of a
    /// constant, which libpcap leaves in place).
    func endUses(isEntry: Bool, foldsConstants: Bool) -> LocationSet {
        guard case let .branch(_, operand, ifTrue, ifFalse) = terminator else { return LocationSet() }
        let uses = operand == .x ? LocationSet.a.union(.x) : .a
        if ifTrue != ifFalse || isEntry || foldsConstants { return uses }
        let lastA = statements.last { $0.definition.contains(.a) }
        guard case .loadConstant = lastA else { return LocationSet() }
        return uses
    }
}

/// Which locations are read later, at the start and end of every reachable block.
struct Liveness {
    var liveIn: [LocationSet]
    var liveOut: [LocationSet]

    init(_ graph: FlowGraph, order: [BlockID]) {
        liveIn = Array(repeating: LocationSet(), count: graph.blocks.count)
        liveOut = liveIn
        // Backwards over the reverse postorder; loops need more than one sweep.
        var changed = true
        var sweeps = 0
        while changed, sweeps <= graph.blocks.count + 1 {
            changed = false
            sweeps += 1
            for id in order.reversed() {
                let block = graph.blocks[id]
                var live = LocationSet()
                for successor in block.successors { live = live.union(liveIn[successor]) }
                liveOut[id] = live
                live = live.union(block.endUses(isEntry: id == graph.entry, foldsConstants: graph.foldsConstants))
                for statement in block.statements.reversed() {
                    live = live.subtracting(statement.definition).union(statement.uses)
                }
                if live != liveIn[id] {
                    liveIn[id] = live
                    changed = true
                }
            }
        }
    }
}

/// Deletes statements whose result is never read — packet loads included, which is what
/// libpcap's optimizer does too (a short packet then passes where the dropped load would have
/// rejected it).
enum DeadStatements {
    static func run(_ graph: inout FlowGraph) -> Bool {
        let order = graph.reversePostorder()
        let liveness = graph.liveness(order: order)
        var changed = false
        for id in order {
            let block = graph.blocks[id]
            var live = liveness.liveOut[id].union(block.endUses(isEntry: id == graph.entry, foldsConstants: graph.foldsConstants))
            // Positions of the dead statements, last first (no array at all when none is dead).
            var dead: [Int] = []
            for index in block.statements.indices.reversed() {
                let statement = block.statements[index]
                guard live.contains(statement.definition) else { dead.append(index); continue }
                live = live.subtracting(statement.definition).union(statement.uses)
            }
            if !dead.isEmpty {
                changed = true
                for index in dead { graph.blocks[id].statements.remove(at: index) }
            }
        }
        return changed
    }
}
