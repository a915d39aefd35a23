/// The packet classifier (issue 10, docs/design-classifier.md): a run of rules that decompose
/// into field constraints, compiled into per-field lookups of rule bit vectors. Each field of a
/// packet (its kind — family, protocol, fragment — the two addresses and the two ports) is
/// looked up in an array, an array-walked trie or an LPM trie and gives a row of the vector
/// table: the bits of the entries whose constraint on that field the packet meets. The AND of
/// the five rows, scanned word by word, has its lowest set bit at the first entry that matches
/// all five, and so the first matching rule: the per-packet work grows with the words scanned,
/// not with the rules tested.
///
/// This value is what the program needs: the tables' contents and where each field's rows
/// start. `Ruleset` builds it from the rules' `FieldConjunction`s (`ClassifierBuilder`).

import PacketFormats

public struct PacketClassifier: Hashable, Sendable {
    /// The packet fields the classifier looks up, each giving one row of the vector table.
    public enum Field: Int, CaseIterable, Sendable {
        case kind, sourceAddress, destinationAddress, sourcePort, destinationPort
    }

    /// What an entry stands for: a rule's counter slot and verdict. A rule that is an `or` of
    /// several conjunctions has several entries.
    public struct Entry: Hashable, Sendable {
        public var slot: Int
        public var verdict: Verdict
        public init(slot: Int, verdict: Verdict) { self.slot = slot; self.verdict = verdict }
    }

    /// The classifier's number in the program (its maps' names).
    public var number: Int
    /// The entries by bit: entry i is bit i % 64 of word i / 64, in first-match order within
    /// each group. Bits that stand for no rule (a group's last word filled up) have slot 0.
    public var entries: [Entry]
    /// Words in a row: entries / 64, rounded up.
    public var words: Int { max(1, (entries.count + 63) / 64) }
    /// The groups' words: entries are grouped by which addresses they test (both, source,
    /// destination, neither), each group in rule order from a word of its own. With
    /// `summaryWords`, each group is scanned apart, and the first match is the lowest slot
    /// found in any group; without, there is one group, scanned word by word.
    public var groups: [Range<Int>]
    /// Words after a row's `words` that say which of its words are not zero (bit j of summary
    /// word s: word 64 s + j), so that the scan visits only words where every row has bits:
    /// within a group that names an address, the few rules whose prefix holds the packet's.
    /// 0: no summaries (small classifiers, where scanning every word is as cheap).
    public var summaryWords: Int
    /// The vector table: each field's rows in turn (`rowBase`), each row `words` u64s (and the
    /// summary words). Row 0 of
    /// a field is the entries that do not test it (a value no rule names, or a field the packet
    /// is too short to hold), so a lookup that finds nothing leaves the row at 0.
    public var rows: [[UInt64]]
    /// Where each field's rows start in `rows`.
    public var rowBase: [Int]

    /// The kind array: key → row (only the keys whose row is not 0). See `kindKey`.
    public let kindRows: [(key: UInt32, row: UInt32)]

    /// A test that an address is in a set (`src net @blocklist and tcp dst port 22`): bit i of
    /// the kind key's set part (`kindKey(_:sets:)`) says whether the packet passes `setTests[i]`.
    public struct SetTest: Hashable, Sendable {
        public var name: String
        public var side: PacketSide
        public init(name: String, side: PacketSide) { self.name = name; self.side = side }
    }
    /// Each set test is a lookup per packet and doubles the kind array.
    public static let maximumSetTests = 6
    public let setTests: [SetTest]
    /// The entries of each set tested, which its tables hold (`setTable`): `xdpfw set add|del`
    /// changes those tables alone.
    public let setEntries: [String: [AddressPrefix]]
    /// The IPv4 address trie (both sides): an array of u32, 65,536 first-level entries per side
    /// (source first), then 256-entry nodes. An entry with `nodeFlag` set points at a node (the
    /// index of its first entry); otherwise it is the field's row for the address.
    public var addressTrie: [(index: UInt32, value: UInt32)]
    public var addressTrieLength: Int
    /// Whether any entry tests a transport byte (else its key is not computed).
    public let hasTransportBytes: Bool
    /// Whether any entry tests an IPv4 address (else the trie is neither loaded nor walked).
    public var hasIPv4Addresses: Bool
    /// IPv6 prefixes → row, per side (LPM tries; empty: not looked up).
    public var ipv6Source: [(prefix: AddressPrefix, row: UInt32)]
    public var ipv6Destination: [(prefix: AddressPrefix, row: UInt32)]
    /// The port arrays: port (source: 0..<65536, destination: 65536 + port) → row.
    public var portRows: [(index: UInt32, row: UInt32)]
    public var hasPorts: Bool

    public init(number: Int, entries: [Entry], groups: [Range<Int>], summaryWords: Int, rows: [[UInt64]], rowBase: [Int],
                kindRows: [(key: UInt32, row: UInt32)], setTests: [SetTest] = [], setEntries: [String: [AddressPrefix]] = [:],
                addressTrie: [(index: UInt32, value: UInt32)], addressTrieLength: Int, hasIPv4Addresses: Bool,
                ipv6Source: [(prefix: AddressPrefix, row: UInt32)], ipv6Destination: [(prefix: AddressPrefix, row: UInt32)],
                portRows: [(index: UInt32, row: UInt32)], hasPorts: Bool) {
        // (Keys of set tests passed are past the kind array: each is read within its own copy.)
        hasTransportBytes = kindRows.contains { $0.key % UInt32(Self.kindArrayLength) >= Self.transportByteKey(.tcpFlags, byte: 0) }
        self.setTests = setTests; self.setEntries = setEntries
        self.number = number; self.entries = entries; self.groups = groups; self.summaryWords = summaryWords; self.rows = rows; self.rowBase = rowBase; self.kindRows = kindRows
        self.addressTrie = addressTrie; self.addressTrieLength = addressTrieLength; self.hasIPv4Addresses = hasIPv4Addresses
        self.ipv6Source = ipv6Source; self.ipv6Destination = ipv6Destination; self.portRows = portRows; self.hasPorts = hasPorts
    }

    /// The summary words group `group` spans.
    public func summaryRange(ofGroup group: Range<Int>) -> Range<Int> { group.lowerBound / 64 ..< (group.upperBound + 63) / 64 }

    /// How many times the scan's loop body can run (what the verifier walks): every word, or
    /// 64 candidates for each summary word of each group.
    public var scanSteps: Int {
        summaryWords == 0 ? words : groups.reduce(0) { $0 + 64 * summaryRange(ofGroup: $1).count }
    }

    // MARK: The kind key

    /// The kind key of a packet: family << 12 | fragment << 10 | protocol key.
    /// - family: 0 any other frame (or one too short for an Ethernet type), then `families`.
    /// - fragment (IPv4): 0 offset zero, 1 a later fragment, 2 not known (too short; IPv6, ARP).
    /// - protocol key: IPv4's protocol; IPv6's next header, or 256 + the next header of a
    ///   fragment header right after the fixed one (next header 44); `absentProtocol` when the
    ///   frame is too short or has none (ARP).
    public static func kindKey(family: Int, fragment: Int, protocolKey: Int) -> UInt32 {
        UInt32(family << 12 | fragment << 10 | protocolKey)
    }
    public static let familyCodes: [(family: Int, etherType: UInt32)] = [
        (1, Protocols.EtherType.ip), (2, Protocols.EtherType.ip6), (3, Protocols.EtherType.arp), (4, Protocols.EtherType.reverseARP),
    ]
    public static let absentProtocol = 1023
    public static let fragmentNotKnown = 2

    /// The packets whose transport byte entries may test: TCP's flags on IPv4 (first
    /// fragments), the ICMP type on IPv4 (first fragments), the ICMPv6 type after IPv6's fixed
    /// header. Such a packet, when the frame holds the byte, is looked up by its
    /// `transportByteKey` instead of its kind key; that key's row is the kind's entries that do
    /// not test the byte and those whose test passes.
    public enum TransportByteClass: Int, CaseIterable, Sendable {
        case tcpFlags, icmpType, icmp6Type

        /// The field the byte is (its offset in the transport header).
        public var field: PacketField { self == .tcpFlags ? .tcpFlags : .icmpType }

        /// The family and IP protocol of the packets of the class.
        public var kind: (family: AddressFamily, ipProtocol: UInt8) {
            switch self {
            case .tcpFlags: (.ipv4, UInt8(Protocols.IPProtocol.tcp))
            case .icmpType: (.ipv4, UInt8(Protocols.IPProtocol.icmp))
            case .icmp6Type: (.ipv6, UInt8(Protocols.IPProtocol.icmp6))
            }
        }

        /// The packet's kind key (`kindKey`) for this class.
        public var kindKey: UInt32 {
            kind.family == .ipv4 ? PacketClassifier.kindKey(family: 1, fragment: 0, protocolKey: Int(kind.ipProtocol))
                : PacketClassifier.kindKey(family: 2, fragment: fragmentNotKnown, protocolKey: Int(kind.ipProtocol))
        }
    }

    /// The kind-array key of a packet of `byteClass` whose transport byte is `byte`.
    public static func transportByteKey(_ byteClass: TransportByteClass, byte: UInt8) -> UInt32 {
        UInt32(5 << 12 | byteClass.rawValue << 8 | Int(byte))
    }

    public static let kindArrayLength = 5 << 12 + TransportByteClass.allCases.count << 8

    /// The key of a packet whose kind key (or transport byte key) is `key` and whose addresses
    /// pass the set tests of the bits of `sets`: one kind array after the other.
    public static func kindKey(_ key: UInt32, sets: Int) -> UInt32 { key + UInt32(sets * kindArrayLength) }

    /// The kind array's length: a plain one per combination of set tests.
    public var kindArrayLength: Int { Self.kindArrayLength << setTests.count }
    /// Set in an address-trie entry that points at a node.
    public static let nodeFlag: UInt32 = 0x8000_0000
    /// The first-level entries of one side of the IPv4 trie.
    public static let trieFirstLevel = 65_536
    public static let portArrayLength = 2 * 65_536

    // MARK: Maps

    public var prefix: String { "classifier.\(number)" }
    var kindTable: MapName { MapName(prefix + ".kind") }
    var trieTable: MapName { MapName(prefix + ".v4") }
    func ipv6Table(_ side: PacketSide) -> MapName { MapName(prefix + ".v6." + (side == .source ? "src" : "dst")) }
    var portTable: MapName { MapName(prefix + ".ports") }
    var vectorTable: MapName { MapName(prefix + ".vectors") }
    var entryTable: MapName { MapName(prefix + ".entries") }
    /// The LPM trie of a set's entries of one family (value: 1), one for every classifier that
    /// tests the set (its entries are the set's, whatever the classifier): a ruleset of several
    /// classifiers does not use up the kernel's 64 maps a program on copies.
    public func setTable(_ name: String, _ family: AddressFamily) -> MapName { Self.setTable(name, family) }

    public static func setTable(_ name: String, _ family: AddressFamily) -> MapName {
        MapName(setTablePrefix + name + (family == .ipv4 ? ".v4" : ".v6"))
    }

    /// Whether `name` is a set's table (`setTable`).
    public static func isSetTable(_ name: MapName) -> Bool { name.text.hasPrefix(setTablePrefix) }

    private static let setTablePrefix = "classifier.set."

    /// An entry of a set table: the prefix as the LPM trie's key, and 1.
    public static func setTableEntry(_ prefix: AddressPrefix) -> (key: [UInt8], value: [UInt8]) {
        var key: [UInt8] = [], value: [UInt8] = []
        LookupGroup.appendLittleEndian(UInt32(prefix.length), to: &key)
        LookupGroup.appendLittleEndian(1, to: &value)
        return (key + prefix.bytes, value)
    }

    /// The maps the classifier's code looks up, filled.
    public func tables(hook: any HookContext) -> [LookupTable] {
        func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func array(_ name: MapName, length: Int, valueSize: Int, _ entries: [(key: [UInt8], value: [UInt8])]) -> LookupTable {
            var table = LookupTable(name: name, family: .ipv4, side: nil, keySize: 4, entries: entries)
            table.arrayLength = max(length, 1)
            table.valueSize = valueSize
            return table
        }
        var tables = [array(kindTable, length: kindArrayLength, valueSize: 4, kindRows.map { (u32($0.key), u32($0.row)) })]
        for name in setEntries.keys.sorted() {
            for family in AddressFamily.allCases {
                let prefixes = setEntries[name]!.filter { $0.family == family }
                var table = LookupTable(name: setTable(name, family), family: family, side: nil, keySize: 4 + family.width,
                                        entries: prefixes.map(Self.setTableEntry))
                table.valueSize = 4
                tables.append(table)
            }
        }
        if hasIPv4Addresses {
            tables.append(array(trieTable, length: addressTrieLength, valueSize: 4, addressTrie.map { (u32($0.index), u32($0.value)) }))
        }
        for (side, prefixes) in [(PacketSide.source, ipv6Source), (.destination, ipv6Destination)] where !prefixes.isEmpty {
            var table = LookupTable(name: ipv6Table(side), family: .ipv6, side: side, keySize: 20,
                                    entries: prefixes.map { (u32(UInt32($0.prefix.length)) + $0.prefix.bytes, u32($0.row)) })
            table.valueSize = 4
            tables.append(table)
        }
        if hasPorts {
            tables.append(array(portTable, length: Self.portArrayLength, valueSize: 4, portRows.map { (u32($0.index), u32($0.row)) }))
        }
        let vectors = rows.enumerated().compactMap { index, row -> (key: [UInt8], value: [UInt8])? in
            guard row.contains(where: { $0 != 0 }) else { return nil }
            // The words little-endian, as the program loads them (one copy, not byte by byte:
            // 10,000 prefix rules have some 60 MiB of rows).
            let bytes = row.map(\.littleEndian).withUnsafeBytes { Array($0) }
            return (u32(UInt32(index)), bytes)
        }
        tables.append(array(vectorTable, length: rows.count, valueSize: (words + summaryWords) * 8, vectors))
        // As a lookup's value: the counter slot, then the return code.
        tables.append(array(entryTable, length: entries.count, valueSize: LookupTable.slotValueSize, entries.enumerated().map { index, entry in
            (u32(UInt32(index)), LookupTable.slotValue(slot: UInt32(entry.slot), code: UInt32(bitPattern: hook.returnCode(for: entry.verdict))))
        }))
        return tables
    }

    /// Bytes of the maps (keys and values as the kernel holds them, before its overhead).
    public var tableBytes: Int {
        kindArrayLength * 4 + setEntries.values.reduce(0) { $0 + $1.count * 24 } + (hasIPv4Addresses ? addressTrieLength * 4 : 0) + (hasPorts ? Self.portArrayLength * 4 : 0)
            + (ipv6Source.count + ipv6Destination.count) * 24 + rows.count * (words + summaryWords) * 8 + entries.count * 8
    }

    public static func == (a: PacketClassifier, b: PacketClassifier) -> Bool {
        a.number == b.number && a.setTests == b.setTests && a.setEntries == b.setEntries && a.entries == b.entries && a.groups == b.groups && a.summaryWords == b.summaryWords && a.rows == b.rows && a.rowBase == b.rowBase
            && a.kindRows.map(\.key) == b.kindRows.map(\.key) && a.kindRows.map(\.row) == b.kindRows.map(\.row)
            && a.addressTrie.map(\.index) == b.addressTrie.map(\.index) && a.addressTrie.map(\.value) == b.addressTrie.map(\.value)
            && a.ipv6Source.map(\.prefix) == b.ipv6Source.map(\.prefix) && a.ipv6Source.map(\.row) == b.ipv6Source.map(\.row)
            && a.ipv6Destination.map(\.prefix) == b.ipv6Destination.map(\.prefix)
            && a.ipv6Destination.map(\.row) == b.ipv6Destination.map(\.row)
            && a.portRows.map(\.index) == b.portRows.map(\.index) && a.portRows.map(\.row) == b.portRows.map(\.row)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(number); hasher.combine(entries); hasher.combine(rows.count)
    }
}

/// Where the rules of one classifier stand in the ruleset's order. A classifier takes the
/// decomposable rules wherever they are, with filters and lookups between them: each stretch of
/// its rules between others is a part, a segment in its place. The classifier is evaluated once
/// per program, at the first of its parts there (its first match, kept on the stack), and each
/// part then only asks whether that match is one of its rules: the filters ranked before the
/// match still run first, so the first match is the ruleset's.
public struct ClassifierPart: Hashable, Sendable {
    /// The counter slots of the part's first and last rule.
    public var slots: ClosedRange<Int>
    /// The part's place among the classifier's parts, and how many it has.
    public var index: Int
    public var count: Int

    public init(slots: ClosedRange<Int>, index: Int, count: Int) {
        self.slots = slots
        self.index = index
        self.count = count
    }
}

