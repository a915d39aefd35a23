/// Port groups (`[tcp|udp|sctp] [src|dst] port N` rules, `LookupKind.port`): one table shared
/// by all port groups of a program, `lookup.ports`, whose entries name the first rule of the
/// group testing a (protocol, side, port).
///
/// When the program's port groups together test few (protocol, side) pairs, the table is an
/// array map: each group's pair owns a block of 65,536 entries indexed by the port, and a zero
/// slot means no rule (rule slots start at 1). The JIT inlines an array lookup, so the
/// lookup costs about as much as one port filter. Otherwise (many groups or pairs: each block is
/// 512 KiB) it is a hash map keyed by group, protocol, side and port.

extension LookupGroup {
    /// The one table of port groups, shared by all.
    public static let portTableName = MapName("lookup.ports")
    /// Key of the hashed port table: u32 group (host order), protocol, side (0 source, 1
    /// destination), port (network order). The table serves both families (`family` is not
    /// used for it).
    public static let portKeySize = 8
    /// Entries of one (protocol, side) block of the port array: one per port.
    public static let portBlockSize = 65_536
    /// The port table is an array while the program's port groups have at most this many
    /// blocks in all (4 MiB); beyond, a hash map.
    public static let maximumPortArrayBlocks = 8

    /// The (protocol, side) pairs the group's rules test, in a fixed order: its blocks.
    public var portBlocks: [PortBlock] {
        var pairs = Set<PortBlock>()
        for member in members {
            guard case let .port(transport, _, sides) = member.match else { continue }
            for side in sides { pairs.insert(PortBlock(transport: transport, side: side)) }
        }
        return pairs.sorted { ($0.transport, $0.side.rawValue) < ($1.transport, $1.side.rawValue) }
    }

    public struct PortBlock: Hashable, Sendable {
        public var transport: UInt8
        public var side: PacketSide
    }

    /// The port groups' places in the shared array when all their blocks fit it (they depend
    /// on the rules' qualifiers only, not on set entries, so a live set change keeps them).
    static func placingPortArrays(_ segments: [RulesetSegment]) -> [RulesetSegment] {
        var total = 0
        for case let .lookup(group) in segments where group.kind == .port { total += group.portBlocks.count }
        guard total <= maximumPortArrayBlocks else { return segments }
        var next = 0
        return segments.map { segment in
            guard case var .lookup(group) = segment, group.kind == .port else { return segment }
            group.portArrayBase = next
            group.portArrayLength = total * portBlockSize
            next += group.portBlocks.count * portBlockSize
            return .lookup(group)
        }
    }

    /// The index of each (protocol, side) block's first entry in the port array (empty when
    /// the table is a hash map).
    var portArrayStarts: [PortBlock: Int] {
        guard let base = portArrayBase else { return [:] }
        var starts: [PortBlock: Int] = [:]
        for (index, block) in portBlocks.enumerated() { starts[block] = base + index * LookupGroup.portBlockSize }
        return starts
    }

    /// The port table's entries: for each (protocol, side, port) a rule of the group tests, the
    /// first such rule (lowest slot); the program looks up the packet's source and destination
    /// keys and takes the lower slot, the first rule matching either.
    func portTable(hook: any HookContext) -> LookupTable {
        let starts = portArrayStarts
        // Keyed by transport << 24 | side << 16 | port: integers sort fast (a set may hold 65,536 ports).
        var first: [UInt32: (slot: Int, verdict: Verdict)] = [:]
        for member in members {
            guard case let .port(transport, port, sides) = member.match else { continue }
            for side in sides {
                let key = UInt32(transport) << 24 | UInt32(side == .source ? 0 : 1) << 16 | UInt32(port)
                if let known = first[key], known.slot <= member.slot { continue }
                first[key] = (member.slot, member.verdict)
            }
        }
        let codes = LookupTable.returnCodes(hook)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        entries.reserveCapacity(first.count)
        for key in first.keys.sorted() {
            let rule = first[key]!
            let transport = UInt8(key >> 24), side: PacketSide = (key >> 16) & 1 == 0 ? .source : .destination
            let port = UInt16(truncatingIfNeeded: key)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(LookupGroup.portKeySize)
            if let start = starts[PortBlock(transport: transport, side: side)] {
                LookupGroup.appendLittleEndian(UInt32(start + Int(port)), to: &bytes)
            } else {
                LookupGroup.appendLittleEndian(UInt32(number), to: &bytes)
                bytes += [transport, side == .source ? 0 : 1, UInt8(port >> 8), UInt8(truncatingIfNeeded: port)]
            }
            entries.append((bytes, LookupTable.slotValue(slot: UInt32(rule.slot), code: codes[rule.verdict]!)))
        }
        var table = LookupTable(name: LookupGroup.portTableName, family: .ipv4, side: nil,
                                keySize: portArrayBase == nil ? LookupGroup.portKeySize : 4, entries: entries)
        if portArrayBase == nil { table.isHash = true } else { table.arrayLength = portArrayLength }
        return table
    }
}
