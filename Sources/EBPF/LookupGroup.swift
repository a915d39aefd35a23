/// Rule merging: a run of consecutive rules that each test one address prefix (`src net P`,
/// `dst host X`, `host X`), or one address prefix and one transport port
/// (`src net P and tcp dst port Q`), becomes one lookup in longest-prefix-match tries instead of
/// a chain of filters, so the cost per packet stays flat however many rules the run has.
///
/// First match is not longest-prefix match: in a run `drop src net 10/8; pass src net 10.1/16`
/// the first rule decides 10.1.2.3. So every prefix stored in a trie holds the lowest rule slot
/// among the run's prefixes that contain it (itself included), and the longest stored prefix
/// containing an address then names the first rule of the run that matches it. The trie value
/// names the rule (its counter slot) and its verdict, so counters stay exact per rule and
/// verdicts may differ inside a run.

/// IPv4 or IPv6 and where the link layer says which: the tries are per family.
public enum AddressFamily: String, Hashable, Sendable, CaseIterable {
    case ipv4, ipv6
    /// Address size in bytes.
    public var width: Int { self == .ipv4 ? 4 : 16 }
}

/// Which address (or port) of a packet a rule tests.
public enum PacketSide: String, Hashable, Sendable, CaseIterable {
    case source, destination
}

/// An address prefix: the address left-aligned in 128 bits (IPv4 in the top 32), host bits zero.
public struct AddressPrefix: Hashable, Sendable {
    public var family: AddressFamily
    public var high: UInt64
    public var low: UInt64
    /// Prefix length in bits: 0...32 (IPv4) or 0...128 (IPv6).
    public var length: Int

    /// `bytes` are the address in network order (4 or 16 bytes); nil when the length does not
    /// fit the family or bits beyond the prefix are set.
    public init?(bytes: [UInt8], length: Int) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        family = bytes.count == 4 ? .ipv4 : .ipv6
        guard (0...(bytes.count * 8)).contains(length) else { return nil }
        let padded = bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
        high = padded[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = padded[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        self.length = length
        guard truncated(to: length) == self else { return nil }
    }

    /// The prefix of `length` bits of this one (`length` ≤ `self.length`).
    public func truncated(to length: Int) -> AddressPrefix {
        var copy = self
        copy.length = length
        copy.high = length >= 64 ? high : (length == 0 ? 0 : high & ~(UInt64.max >> UInt64(length)))
        copy.low = length >= 128 ? low : (length <= 64 ? 0 : low & ~(UInt64.max >> UInt64(length - 64)))
        return copy
    }

    /// The address bytes in network order (4 or 16).
    public var bytes: [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(16)
        for word in [high, low] {
            for byte in 0..<8 { all.append(UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * byte))) }
        }
        return Array(all.prefix(family.width))
    }
}

/// What one mergeable rule tests, as libpcap means it on Ethernet.
public enum LookupMatch: Hashable, Sendable {
    /// `[src|dst] host X` / `[src|dst] net P`: the IPv4 source/destination (or ARP/RARP
    /// sender/target) address, or the IPv6 one, lies in the prefix. Both sides: either does.
    case address(AddressPrefix, sides: Set<PacketSide>)
    /// `SIDE net P and PROTO SIDE port Q`: an IPv4 (unfragmented, or first fragment) or IPv6
    /// (no extension header) packet of transport protocol `transport` (6 or 17) whose address
    /// lies in the prefix and whose port is Q.
    case addressAndPort(AddressPrefix, addressSide: PacketSide, transport: UInt8, port: UInt16, portSide: PacketSide)

    /// Which rules may share one lookup: all single-address rules, and two-field rules with
    /// the same sides.
    public var kind: LookupKind {
        switch self {
        case .address: .address
        case let .addressAndPort(_, addressSide, _, _, portSide): .addressAndPort(addressSide: addressSide, portSide: portSide)
        }
    }
}

public enum LookupKind: Hashable, Sendable {
    case address
    case addressAndPort(addressSide: PacketSide, portSide: PacketSide)
}

/// One LPM trie, shared by all lookup groups of a program (a program may use at most 64 maps),
/// with its contents. Keys: u32 prefix length (host order), u32 group number, for two-field
/// groups the transport protocol, a zero byte and the port (network order), then the address
/// bytes. Values: u32 counter slot, u32 the hook's return code.
public struct LookupTable: Hashable, Sendable {
    /// The name the program refers to the map by (resolved to a file descriptor at load).
    public var name: String
    public var family: AddressFamily
    /// The address this trie is looked up with; nil for two-field groups (the kind says).
    public var side: PacketSide?
    public var keySize: Int
    public static let valueSize = 8
    public var entries: [(key: [UInt8], value: [UInt8])]

    /// The tables of several groups, those of the same name (layout) put together.
    public static func combined(_ tables: [LookupTable]) -> [LookupTable] {
        var order: [String] = []
        var byName: [String: LookupTable] = [:]
        for table in tables {
            if byName[table.name] == nil { order.append(table.name); byName[table.name] = table } else { byName[table.name]!.entries += table.entries }
        }
        return order.map { byName[$0]! }
    }

    public static func == (a: LookupTable, b: LookupTable) -> Bool {
        a.name == b.name && a.keySize == b.keySize && a.entries.map(\.key) == b.entries.map(\.key)
            && a.entries.map(\.value) == b.entries.map(\.value)
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(name); hasher.combine(entries.count) }
}

/// A run of consecutive mergeable rules of one kind, in order.
public struct LookupGroup: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public var match: LookupMatch
        /// The rule's counter slot (rule index + 1).
        public var slot: Int
        public var verdict: Verdict
        public init(match: LookupMatch, slot: Int, verdict: Verdict) {
            self.match = match; self.slot = slot; self.verdict = verdict
        }
    }

    /// One trie: the addresses it holds, the side it is looked up with (nil: two-field), its name.
    public typealias TableLayout = (family: AddressFamily, side: PacketSide?, name: String)

    public var kind: LookupKind
    public var members: [Member]
    /// The group's number in the program: the first field of its keys.
    public var number: Int

    public init(kind: LookupKind, members: [Member], number: Int) {
        self.kind = kind; self.members = members; self.number = number
    }

    /// Bytes before the address in a key: the prefix length, the group, and for two-field
    /// groups the protocol, a zero and the port.
    var addressOffsetInKey: Int { kind == .address ? 8 : 12 }
    /// Bits of a key before the address (counted in its prefix length).
    var exactBits: Int { (addressOffsetInKey - 4) * 8 }

    func tableName(_ family: AddressFamily, _ side: PacketSide?) -> String {
        "lookup.\(kind == .address ? "address" : "port").\(family == .ipv4 ? "v4" : "v6")"
            + (side.map { $0 == .source ? ".src" : ".dst" } ?? "")
    }

    /// Which tries the group has: one per family (and side, for single-address groups) that
    /// some member needs, in a fixed order. The program looks up only these.
    public var layouts: [TableLayout] {
        var needed = Set<TableKey>()
        for member in members {
            switch member.match {
            case let .address(prefix, sides):
                for side in sides { needed.insert(TableKey(family: prefix.family, side: side)) }
            case let .addressAndPort(prefix, _, _, _, _):
                needed.insert(TableKey(family: prefix.family, side: nil))
            }
        }
        return needed.sorted { ($0.family.rawValue, $0.side?.rawValue ?? "") < ($1.family.rawValue, $1.side?.rawValue ?? "") }
            .map { ($0.family, $0.side, tableName($0.family, $0.side)) }
    }

    /// The tries the group looks up, each with the entries that make the LPM answer the first
    /// matching rule, in the order of `layouts`.
    public func tables(hook: any HookContext) -> [LookupTable] {
        var keyed: [TableKey: [(exact: UInt32, prefix: AddressPrefix, slot: Int)]] = [:]
        var verdicts: [Int: Verdict] = [:]
        for member in members {
            verdicts[member.slot] = member.verdict
            switch member.match {
            case let .address(prefix, sides):
                for side in PacketSide.allCases where sides.contains(side) {
                    keyed[TableKey(family: prefix.family, side: side), default: []].append((0, prefix, member.slot))
                }
            case let .addressAndPort(prefix, _, transport, port, _):
                keyed[TableKey(family: prefix.family, side: nil), default: []]
                    .append((UInt32(transport) << 16 | UInt32(port), prefix, member.slot))
            }
        }
        return layouts.map { layout in
            let firstMatch = LookupGroup.firstMatchingSlots(keyed[TableKey(family: layout.family, side: layout.side)]!)
            var entries: [(key: [UInt8], value: [UInt8])] = []
            entries.reserveCapacity(firstMatch.count)
            for (key, slot) in firstMatch {
                var bytes = LookupGroup.littleEndian(UInt32(key.prefix.length + exactBits)) + LookupGroup.littleEndian(UInt32(number))
                if kind != .address {
                    bytes += [UInt8(key.exact >> 16), 0, UInt8(truncatingIfNeeded: key.exact >> 8), UInt8(truncatingIfNeeded: key.exact)]
                }
                bytes += key.prefix.bytes
                let code = UInt32(bitPattern: hook.returnCode(for: verdicts[slot]!))
                entries.append((bytes, LookupGroup.littleEndian(UInt32(slot)) + LookupGroup.littleEndian(code)))
            }
            return LookupTable(name: layout.name, family: layout.family, side: layout.side,
                               keySize: addressOffsetInKey + layout.family.width, entries: entries)
        }
    }

    private struct TableKey: Hashable { var family: AddressFamily; var side: PacketSide? }
    struct EntryKey: Hashable { var exact: UInt32; var prefix: AddressPrefix }

    /// For every distinct (exact fields, prefix): the lowest slot among the entries with the
    /// same exact fields whose prefix contains it.
    static func firstMatchingSlots(_ rows: [(exact: UInt32, prefix: AddressPrefix, slot: Int)]) -> [(EntryKey, Int)] {
        var own: [EntryKey: Int] = [:]
        own.reserveCapacity(rows.count)
        for row in rows {
            let key = EntryKey(exact: row.exact, prefix: row.prefix)
            own[key] = min(own[key] ?? .max, row.slot)
        }
        let lengths = Set(rows.map(\.prefix.length)).sorted()
        var result: [(EntryKey, Int)] = []
        result.reserveCapacity(own.count)
        for (key, slot) in own {
            var best = slot
            for length in lengths {
                if length >= key.prefix.length { break }
                if let shorter = own[EntryKey(exact: key.exact, prefix: key.prefix.truncated(to: length))] { best = min(best, shorter) }
            }
            result.append((key, best))
        }
        return result.sorted { $0.1 < $1.1 }
    }

    static func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}
