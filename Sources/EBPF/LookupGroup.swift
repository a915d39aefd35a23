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

import PacketFormats

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
        var bytes: [UInt8] = []
        bytes.reserveCapacity(family.width)
        appendBytes(to: &bytes)
        return bytes
    }

    /// Hashed as numbers: the family's synthesized hashing would hash its name (a `check` of
    /// 10,000 prefix rules hashes millions of prefixes).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(high)
        hasher.combine(low)
        hasher.combine(length << 1 | (family == .ipv6 ? 1 : 0))
    }

    func appendBytes(to bytes: inout [UInt8]) {
        for index in 0..<family.width {
            let word = index < 8 ? high : low
            bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (index % 8))))
        }
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
    /// `[PROTO] [src|dst] port N`: an IPv4 (unfragmented, or first fragment) or IPv6 (no
    /// extension header) packet of transport protocol `transport` (6, 17 or 132) whose port on
    /// one of `sides` is N (both sides: either does).
    case port(transport: UInt8, port: UInt16, sides: Set<PacketSide>)

    /// Which rules may share one lookup: all single-address rules, and two-field rules with
    /// the same sides.
    public var kind: LookupKind {
        switch self {
        case .address: .address
        case let .addressAndPort(_, addressSide, _, _, portSide): .addressAndPort(addressSide: addressSide, portSide: portSide)
        case .port: .port
        }
    }
}

public enum LookupKind: Hashable, Sendable {
    case address
    case addressAndPort(addressSide: PacketSide, portSide: PacketSide)
    /// Port rules of any protocol and direction: one hash map keyed by group, protocol, side
    /// and port (see `LookupGroup.portTable`).
    case port
}

/// One LPM trie, shared by all lookup groups of a program (a program may use at most 64 maps),
/// with its contents. Keys: u32 prefix length (host order), u32 group number, for two-field
/// groups the transport protocol, a zero byte and the port (network order), then the address
/// bytes. Values: u32 counter slot, u32 the hook's return code.
public struct LookupTable: Hashable, Sendable {
    /// The name the program refers to the map by (resolved to a file descriptor at load).
    public var name: MapName
    public var family: AddressFamily
    /// The address this trie is looked up with; nil for two-field groups (the kind says).
    public var side: PacketSide?
    public var keySize: Int
    /// The size of the lookup groups' values: u32 slot, u32 return code.
    public static let slotValueSize = 8
    public var entries: [(key: [UInt8], value: [UInt8])]
    /// Bytes of each value (`slotValueSize` but for the classifier's tables).
    public var valueSize = LookupTable.slotValueSize
    /// A hash map holding the prefixes of one length (looked up with the address cut to that
    /// length) instead of an LPM trie holding all.
    public var isHash = false
    /// An array map of this many entries, indexed by a u32 key (the port tables: see
    /// `LookupGroup.portArrayBase`), instead of a hash map or trie.
    public var arrayLength: Int?

    /// The hash maps per prefix length of a running program, read back from the names of its
    /// pinned tables (`lookup-address-v4-src-24` is the /24 map of `lookup.address.v4.src`),
    /// for the tables named `tables`.
    public static func hashedLengths(pinnedEntries: [String], tables: [MapName]) -> [MapName: [Int]] {
        var result: [MapName: [Int]] = [:]
        for table in tables {
            let prefix = table.pinEntry + "-"
            let lengths = pinnedEntries.compactMap { $0.hasPrefix(prefix) ? Int($0.dropFirst(prefix.count)) : nil }
            if !lengths.isEmpty { result[table] = lengths.sorted() }
        }
        return result
    }

    /// The return code of each verdict at `hook`, as the values of the tables hold it.
    static func returnCodes(_ hook: any HookContext) -> [Verdict: UInt32] {
        Dictionary(uniqueKeysWithValues: Verdict.allCases.map { ($0, UInt32(bitPattern: hook.returnCode(for: $0))) })
    }

    /// A value of the lookup groups' tables (`slotValueSize` bytes): the u32 counter slot, then
    /// the u32 return code (with flags such as `LookupGroup.lookFurther`), little-endian.
    static func slotValue(slot: UInt32, code: UInt32) -> [UInt8] {
        var value: [UInt8] = []
        value.reserveCapacity(slotValueSize)
        LookupGroup.appendLittleEndian(slot, to: &value)
        LookupGroup.appendLittleEndian(code, to: &value)
        return value
    }

    /// The tables of several groups, those of the same name (layout) put together.
    public static func combined(_ tables: [LookupTable]) -> [LookupTable] {
        var order: [MapName] = []
        var byName: [MapName: LookupTable] = [:]
        for table in tables {
            if byName[table.name] == nil {
                order.append(table.name)
                byName[table.name] = table
            } else {
                byName[table.name]!.entries += table.entries
            }
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
        /// The member stands for an entry of a set (`src net @blocklist`), which `xdpfw set add`
        /// may change while the program runs: its tables exist for both families.
        public var fromSet: Bool
        public init(match: LookupMatch, slot: Int, verdict: Verdict, fromSet: Bool = false) {
            self.match = match; self.slot = slot; self.verdict = verdict; self.fromSet = fromSet
        }
    }

    /// One table: the addresses it holds, the side it is looked up with (nil: two-field), its
    /// name, and for hash tables (one per prefix length) the lengths.
    public typealias TableLayout = (family: AddressFamily, side: PacketSide?, name: MapName, hashedLengths: [Int]?)

    /// Port groups: where the group's blocks start in the shared port array, and the array's
    /// length; nil when the port table is a hash map (see `placingPortArrays`).
    public var portArrayBase: Int?
    public var portArrayLength = 0

    /// Tables whose prefixes have at most this many lengths (over all groups) are hash maps,
    /// one per length, looked up once each: a hash lookup costs a third of a trie lookup.
    public static let maximumHashedLengths = 3
    /// Table name → the prefix lengths of its hash maps, for tables that are hashed.
    public var hashedLengths: [MapName: [Int]] = [:]

    /// The segments with each table hashed per length where all groups together use few lengths
    /// in it (the maps are shared by the groups, and a program may have only 64 maps).
    ///
    /// `keeping` (a live set change): the hash tables of the program that runs, kept as they are
    /// wherever the prefixes now fit their lengths (an empty map of a length no prefix has any
    /// more is harmless), so that the program stays the same.
    public static func choosingHashTables(_ segments: [RulesetSegment], keeping: [MapName: [Int]]? = nil) -> [RulesetSegment] {
        var lengths: [MapName: Set<Int>] = [:]
        for case let .lookup(group) in segments {
            for (name, used) in group.lengthsByTable { lengths[name, default: []].formUnion(used) }
        }
        var hashed = lengths.filter { $0.value.count <= maximumHashedLengths }.mapValues { $0.sorted() }
        if let keeping {
            // The running program's choice stands: its tries stay tries, its hash maps stay as
            // long as the prefixes fit them (else a new program is needed, as the caller says).
            hashed = keeping.filter { (lengths[$0.key] ?? []).isSubset(of: $0.value) }
        }
        return placingPortArrays(segments.map { segment in
            guard case var .lookup(group) = segment else { return segment }
            group.hashedLengths = hashed
            return .lookup(group)
        })
    }

    /// The prefix lengths of the group's members, by table name (before hashing).
    public var lengthsByTableName: [MapName: Set<Int>] { lengthsByTable }

    private var lengthsByTable: [MapName: Set<Int>] {
        var lengths: [MapName: Set<Int>] = [:]
        for member in members {
            switch member.match {
            case let .address(prefix, sides):
                for side in sides { lengths[tableName(prefix.family, side), default: []].insert(prefix.length) }
            case let .addressAndPort(prefix, _, _, _, _):
                lengths[tableName(prefix.family, nil), default: []].insert(prefix.length)
            case .port:
                break
            }
        }
        return lengths
    }

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

    func tableName(_ family: AddressFamily, _ side: PacketSide?) -> MapName {
        if kind == .port { return LookupGroup.portTableName }
        return MapName("lookup.\(kind == .address ? "address" : "port").\(family == .ipv4 ? "v4" : "v6")"
            + (side.map { $0 == .source ? ".src" : ".dst" } ?? ""))
    }

    /// Which tries the group has: one per family (and side, for single-address groups) that
    /// some member needs, in a fixed order. The program looks up only these.
    public var layouts: [TableLayout] {
        if kind == .port { return members.isEmpty ? [] : [(.ipv4, nil, LookupGroup.portTableName, nil)] }
        var needed = Set<TableKey>()
        for member in members { needed.formUnion(tableKeys(of: member.match, fromSet: member.fromSet)) }
        return needed.sorted { ($0.family.rawValue, $0.side?.rawValue ?? "") < ($1.family.rawValue, $1.side?.rawValue ?? "") }
            .map { key in
                let name = tableName(key.family, key.side)
                return (key.family, key.side, name, hashedLengths[name])
            }
    }

    /// The tries the group looks up, each with the entries that make the LPM answer the first
    /// matching rule, in the order of `layouts`.
    public func tables(hook: any HookContext) -> [LookupTable] {
        if kind == .port { return members.isEmpty ? [] : [portTable(hook: hook)] }
        return tries(hook: hook).flatMap { table -> [LookupTable] in
            guard let lengths = hashedLengths[table.name] else { return [table] }
            return lengths.map { length in
                var hashed = table
                hashed.name = LookupGroup.hashTableName(table.name, length)
                hashed.isHash = true
                hashed.entries = table.entries.filter { Int($0.key[0]) | Int($0.key[1]) << 8 == length + exactBits }
                return hashed
            }
        }
    }

    static func hashTableName(_ name: MapName, _ length: Int) -> MapName { name.appending("/\(length)") }

    private func tries(hook: any HookContext) -> [LookupTable] {
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
            case .port:
                break
            }
        }
        return layouts.map { layout in
            let firstMatch = LookupGroup.firstMatchingSlots(keyed[TableKey(family: layout.family, side: layout.side)] ?? [],
                                                            markersAt: hashedLengths[layout.name])
            var entries: [(key: [UInt8], value: [UInt8])] = []
            entries.reserveCapacity(firstMatch.count)
            let codes = LookupTable.returnCodes(hook)
            for (key, slot, further) in firstMatch {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(addressOffsetInKey + layout.family.width)
                LookupGroup.appendLittleEndian(UInt32(key.prefix.length + exactBits), to: &bytes)
                LookupGroup.appendLittleEndian(UInt32(number), to: &bytes)
                if kind != .address {
                    bytes += [UInt8(key.exact >> 16), 0, UInt8(truncatingIfNeeded: key.exact >> 8), UInt8(truncatingIfNeeded: key.exact)]
                }
                key.prefix.appendBytes(to: &bytes)
                let code = slot.map { codes[verdicts[$0]!]! } ?? 0
                entries.append((bytes, LookupTable.slotValue(slot: slot.map(UInt32.init) ?? LookupGroup.noSlot,
                                                             code: further ? code | LookupGroup.lookFurther : code)))
            }
            return LookupTable(name: layout.name, family: layout.family, side: layout.side,
                               keySize: addressOffsetInKey + layout.family.width, entries: entries)
        }
    }

    struct TableKey: Hashable { var family: AddressFamily; var side: PacketSide? }

    /// The tables a member's match is looked up in; a set's entry needs both families' (an
    /// entry of the other family may be added live).
    func tableKeys(of match: LookupMatch, fromSet: Bool) -> [TableKey] {
        let families = fromSet ? AddressFamily.allCases : nil
        switch match {
        case let .address(prefix, sides):
            return sides.sorted { $0.rawValue < $1.rawValue }.flatMap { side in
                (families ?? [prefix.family]).map { TableKey(family: $0, side: side) }
            }
        case let .addressAndPort(prefix, _, _, _, _):
            return (families ?? [prefix.family]).map { TableKey(family: $0, side: nil) }
        case .port:
            return [TableKey(family: .ipv4, side: nil)]
        }
    }
    struct EntryKey: Hashable { var exact: UInt32; var prefix: AddressPrefix }

    /// The slot of an entry that is only a marker (no rule's prefix ends there).
    static let noSlot = UInt32.max
    /// Set in the return code of an entry of a hash map per length when longer prefixes lie
    /// under it: only then is the next length looked up.
    public static let lookFurther: UInt32 = 0x8000_0000

    /// For every distinct (exact fields, prefix): the lowest slot among the entries with the
    /// same exact fields whose prefix contains it. With `markersAt` (the lengths of hash maps
    /// per length, ascending), also markers: each prefix cut to every shorter length, so that a
    /// miss at one length proves that no longer prefix matches (one lookup for most packets);
    /// `further` says that longer prefixes lie under the entry, and a marker's slot is that of
    /// the prefixes containing it, nil when there is none.
    static func firstMatchingSlots(_ rows: [(exact: UInt32, prefix: AddressPrefix, slot: Int)],
                                   markersAt hashed: [Int]? = nil) -> [(EntryKey, slot: Int?, further: Bool)] {
        var own: [EntryKey: Int] = [:]
        own.reserveCapacity(rows.count)
        for row in rows {
            let key = EntryKey(exact: row.exact, prefix: row.prefix)
            own[key] = min(own[key] ?? .max, row.slot)
        }
        var further = Set<EntryKey>()
        if hashed != nil { further.reserveCapacity(own.count) }
        for key in own.keys {
            for length in hashed ?? [] where length < key.prefix.length {
                further.insert(EntryKey(exact: key.exact, prefix: key.prefix.truncated(to: length)))
            }
        }
        let lengths = Set(rows.map(\.prefix.length)).sorted()
        var result: [(EntryKey, slot: Int?, further: Bool)] = []
        result.reserveCapacity(own.count + further.count)
        func add(_ key: EntryKey, own slot: Int?) {
            var best = slot
            for length in lengths {
                if length >= key.prefix.length { break }
                if let shorter = own[EntryKey(exact: key.exact, prefix: key.prefix.truncated(to: length))] { best = min(best ?? .max, shorter) }
            }
            result.append((key, best, further.contains(key)))
        }
        for (key, slot) in own { add(key, own: slot) }
        for key in further where own[key] == nil { add(key, own: nil) }
        return result
    }

    static func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: UInt32(0), to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }
}
