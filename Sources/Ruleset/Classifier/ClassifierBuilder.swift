/// From rules decomposed into field constraints (`FieldConjunction`) to a packet classifier's
/// tables (`PacketClassifier`; the measurements behind the choice are in
/// docs/design-classifier.md).
///
/// Every conjunction of every rule is one entry, numbered in rule order. For each field the
/// values a packet can have fall into classes — elementary port intervals, the longest stored
/// prefix containing an address, a (family, fragment, protocol) key — and each class gets the
/// row of entries it satisfies: those that do not test the field, and those whose constraint
/// holds for the class. Equal rows are stored once.

import EBPF
import FilterLanguage
import PacketFormats

public enum ClassifierBuilder {
    /// One rule as the classifier sees it.
    public struct Member: Sendable {
        public var conjunctions: [FieldConjunction]
        public var entry: PacketClassifier.Entry
        public init(conjunctions: [FieldConjunction], slot: Int, verdict: Verdict) {
            self.conjunctions = conjunctions
            entry = PacketClassifier.Entry(slot: slot, verdict: verdict)
        }
    }

    /// Whether the classifier reads this conjunction's fields as the matcher
    /// (`FieldConjunction.matches`) does: the shapes `RuleDecomposition` produces.
    public static func accepts(_ conjunction: FieldConjunction) -> Bool {
        let c = conjunction
        guard let family = c.family else {
            return c.ipProtocol == nil && c.fragmentNextHeader == nil && !c.firstFragment && c.source == nil
                && c.destination == nil && c.sourcePorts == nil && c.destinationPorts == nil
                && c.sourceSets.isEmpty && c.destinationSets.isEmpty
        }
        let prefixFamily: AddressFamily = family == .ipv6 ? .ipv6 : .ipv4
        guard [c.source, c.destination].allSatisfy({ $0 == nil || $0!.family == prefixFamily }) else { return false }
        if let test = c.transportByte, PacketClassifier.TransportByteClass.allCases.allSatisfy({ !holds(c, test, $0) }) { return false }
        switch family {
        case .ipv4: return c.fragmentNextHeader == nil
        case .ipv6:
            return !c.firstFragment && (c.fragmentNextHeader == nil || c.ipProtocol == UInt8(Protocols.IPProtocol.fragment))
        case .arp, .reverseARP:
            return c.ipProtocol == nil && c.fragmentNextHeader == nil && !c.firstFragment
                && c.sourcePorts == nil && c.destinationPorts == nil
        }
    }

    /// Whether a conjunction's transport byte test is the byte of `byteClass` on exactly the
    /// packets of that class (family, protocol, first fragment).
    private static func holds(_ c: FieldConjunction, _ test: TransportByteTest, _ byteClass: PacketClassifier.TransportByteClass) -> Bool {
        let kind = byteClass.kind
        return test.field == byteClass.field && c.family?.addressFamily == kind.family && c.ipProtocol == kind.ipProtocol
            && c.fragmentNextHeader == nil && c.firstFragment == (kind.family == .ipv4)
    }

    /// A rule with more conjunctions than this stays a filter (each is an entry, a bit of every row).
    public static let maximumEntriesPerRule = 64

    /// A rule's conjunctions when the classifier can take them all.
    public static func conjunctions(of tree: FilterExpression) -> [FieldConjunction]? {
        guard let conjunctions = RuleDecomposition.conjunctions(of: tree), conjunctions.count <= maximumEntriesPerRule,
              conjunctions.allSatisfy(accepts) else { return nil }
        return conjunctions
    }

    /// A rule that names sets, when the classifier can take all its conjunctions
    /// (`RuleDecomposition.conjunctions(ofSetRule:sets:)`).
    public static func conjunctions(ofSetRule expression: String, sets: [String: [String]]) -> [FieldConjunction]? {
        guard let conjunctions = RuleDecomposition.conjunctions(ofSetRule: expression, sets: sets),
              conjunctions.count <= maximumEntriesPerRule, conjunctions.allSatisfy(accepts),
              Set(conjunctions.flatMap(setTestsOf)).count <= PacketClassifier.maximumSetTests else { return nil }
        return conjunctions
    }

    /// Classifiers with more entries than this keep row summaries and scan their groups apart
    /// (docs/design-classifier.md: below, scanning every word costs no more).
    public static let summaryThreshold = 2_048

    /// `sets`: the entries of the sets the members test (`FieldConjunction.sourceSets`...), each
    /// a `RuleDecomposition.classifierSetEntry`; at most `PacketClassifier.maximumSetTests`
    /// (set, side) pairs.
    public static func build(_ members: [Member], number: Int, sets: [String: [String]] = [:],
                             summaryThreshold: Int = summaryThreshold) -> PacketClassifier {
        var all: [(FieldConjunction, PacketClassifier.Entry)] = []
        var setTests: [PacketClassifier.SetTest] = []
        for member in members {
            for conjunction in member.conjunctions {
                precondition(accepts(conjunction), "a conjunction the classifier does not read: \(conjunction)")
                all.append((conjunction, member.entry))
                for test in setTestsOf(conjunction) where !setTests.contains(test) { setTests.append(test) }
            }
        }
        precondition(setTests.count <= PacketClassifier.maximumSetTests, "more set tests than a classifier reads")
        var setEntries: [String: [AddressPrefix]] = [:]
        for name in Set(setTests.map(\.name)) {
            setEntries[name] = (sets[name] ?? []).compactMap(RuleDecomposition.classifierSetEntry)
        }
        // Grouped by the addresses they test, each group from a word of its own (nil: no entry).
        let summarized = all.count > summaryThreshold
        var conjunctions: [FieldConjunction?] = [], entries: [PacketClassifier.Entry] = [], groups: [Range<Int>] = []
        // 2: tests the source address, 1: the destination; -1: all in one group.
        func pattern(_ c: FieldConjunction) -> Int { (c.testsAddress(.source) ? 2 : 0) + (c.testsAddress(.destination) ? 1 : 0) }
        for group in summarized ? [3, 2, 1, 0] : [-1] {
            let members = all.filter { group == -1 || pattern($0.0) == group }
            guard !members.isEmpty else { continue }
            let start = conjunctions.count / 64
            for (conjunction, entry) in members { conjunctions.append(conjunction); entries.append(entry) }
            while conjunctions.count % 64 != 0 { conjunctions.append(nil); entries.append(PacketClassifier.Entry(slot: 0, verdict: .pass)) }
            groups.append(start..<conjunctions.count / 64)
        }
        if groups.isEmpty { groups = [0..<1] }
        let words = max(1, (entries.count + 63) / 64)
        func bits(where test: (FieldConjunction) -> Bool) -> EntryBits {
            var bits = EntryBits(words: words)
            for (index, conjunction) in conjunctions.enumerated() where conjunction.map(test) ?? false { bits.insert(index) }
            return bits
        }

        let kind = kindRows(conjunctions, words: words, setTests: setTests)
        var sourceRows = FieldRows(none: bits { !$0.testsAddress(.source) })
        var destinationRows = FieldRows(none: bits { !$0.testsAddress(.destination) })
        let sources = prefixRows(conjunctions, side: .source, rows: &sourceRows)
        let destinations = prefixRows(conjunctions, side: .destination, rows: &destinationRows)
        var trie = AddressTrie()
        trie.add(sources.ipv4, base: 0)
        trie.add(destinations.ipv4, base: UInt32(PacketClassifier.trieFirstLevel))
        var sourcePortRows = FieldRows(none: bits { $0.sourcePorts == nil })
        var destinationPortRows = FieldRows(none: bits { $0.destinationPorts == nil })
        let portRows = portRows(conjunctions, side: .source, rows: &sourcePortRows)
            + portRows(conjunctions, side: .destination, rows: &destinationPortRows)

        var rows: [[UInt64]] = [], rowBase: [Int] = []
        let summaryWords = summarized ? (words + 63) / 64 : 0
        for field in [kind.rows, sourceRows, destinationRows, sourcePortRows, destinationPortRows] {
            rowBase.append(rows.count)
            rows += field.rows.map { row in
                var summary = [UInt64](repeating: 0, count: summaryWords)
                if summarized {
                    for (index, word) in row.words.enumerated() where word != 0 { summary[index / 64] |= 1 << UInt64(index % 64) }
                }
                return row.words + summary
            }
        }
        return PacketClassifier(
            number: number, entries: entries, groups: groups, summaryWords: summaryWords, rows: rows, rowBase: rowBase,
            kindRows: kind.keys, setTests: setTests, setEntries: setEntries,
            addressTrie: trie.entries, addressTrieLength: trie.length,
            hasIPv4Addresses: !sources.ipv4.isEmpty || !destinations.ipv4.isEmpty,
            ipv6Source: sources.ipv6, ipv6Destination: destinations.ipv6, portRows: portRows,
            hasPorts: all.contains { $0.0.sourcePorts != nil || $0.0.destinationPorts != nil })
    }

    // MARK: Kind: family, fragment, protocol

    /// The kind key of every packet the classifier can see (`PacketClassifier.kindKey`), its
    /// row, and the rows; row 0 is a frame of no family the entries name (family code 0).
    private static func kindRows(_ conjunctions: [FieldConjunction?], words: Int,
                                 setTests: [PacketClassifier.SetTest]) -> (rows: FieldRows, keys: [(key: UInt32, row: UInt32)]) {
        // Entries with the same kind constraints share their bits. `sets`: the bits of the set
        // tests (`setTests`) the entry needs to hold.
        struct Signature: Hashable {
            var family: FrameFamily?, ipProtocol: UInt8?, fragmentNextHeader: UInt8?, firstFragment: Bool
            var transportByte: TransportByteTest?
            var sets: Int
        }
        var bySignature: [Signature: EntryBits] = [:], order: [Signature] = []
        for (index, c) in conjunctions.enumerated() {
            guard let c else { continue }
            let sets = setTestsOf(c).reduce(0) { $0 | 1 << setTests.firstIndex(of: $1)! }
            let signature = Signature(family: c.family, ipProtocol: c.ipProtocol, fragmentNextHeader: c.fragmentNextHeader,
                                      firstFragment: c.firstFragment, transportByte: c.transportByte, sets: sets)
            if bySignature[signature] == nil { order.append(signature); bySignature[signature] = EntryBits(words: words) }
            bySignature[signature]!.insert(index)
        }
        let absent = PacketClassifier.absentProtocol, unknown = PacketClassifier.fragmentNotKnown
        // `byte`: the transport byte of the packet's class when the frame holds it; a test of it
        // fails without (a load past the end rejects).
        // `sets`: the bits of the set tests the packet's addresses pass.
        func holds(_ s: Signature, family: FrameFamily, fragment: Int, protocolKey: Int, sets: Int,
                   byte: (PacketClassifier.TransportByteClass, UInt8)? = nil) -> Bool {
            guard s.family == family, s.sets & ~sets == 0 else { return false }
            if let test = s.transportByte {
                guard let (byteClass, value) = byte, test.field == byteClass.field, test.values.contains(value) else { return false }
            }
            if let number = s.ipProtocol {
                let fragmentHeader = family == .ipv6 && Int(number) == Int(Protocols.IPProtocol.fragment)
                    && (256..<512).contains(protocolKey)
                guard protocolKey == Int(number) || fragmentHeader else { return false }
            }
            if let next = s.fragmentNextHeader, protocolKey != 256 + Int(next) { return false }
            if s.firstFragment && fragment != 0 { return false }
            return true
        }
        let anyFrame = order.filter { $0.family == nil }.reduce(EntryBits(words: words)) { $0.union(bySignature[$1]!) }
        var rows = FieldRows(none: anyFrame)
        var keys: [(key: UInt32, row: UInt32)] = []
        var possible: [(FrameFamily, code: Int, fragment: Int, protocolKey: Int)] = []
        for fragment in 0...unknown { for key in Array(0..<256) + [absent] { possible.append((.ipv4, 1, fragment, key)) } }
        for key in Array(0..<512) + [absent] { possible.append((.ipv6, 2, unknown, key)) }
        possible.append((.arp, 3, unknown, absent))
        possible.append((.reverseARP, 4, unknown, absent))
        // Each key once per combination of set tests passed (`PacketClassifier.kindKey(_:sets:)`);
        // a key no set entry's kind holds has the same row for all.
        let masks = 1 << setTests.count
        func add(_ key: UInt32, _ holding: (Signature, Int) -> Bool) {
            let testsSets = order.contains { $0.sets != 0 && holding($0, masks - 1) }
            for sets in 0..<(testsSets ? masks : 1) {
                var bits = anyFrame
                for signature in order where holding(signature, sets) { bits.formUnion(bySignature[signature]!) }
                let row = rows.row(for: bits)
                guard row != 0 else { continue }
                for mask in testsSets ? sets...sets : 0...(masks - 1) { keys.append((PacketClassifier.kindKey(key, sets: mask), row)) }
            }
        }
        for (family, code, fragment, protocolKey) in possible {
            add(PacketClassifier.kindKey(family: code, fragment: fragment, protocolKey: protocolKey)) {
                holds($0, family: family, fragment: fragment, protocolKey: protocolKey, sets: $1)
            }
        }
        // Packets whose transport byte (TCP flags, ICMP type) some entry tests: a key per class
        // and byte value, past the kind keys.
        guard order.contains(where: { $0.transportByte != nil }) else { return (rows, keys) }
        for byteClass in PacketClassifier.TransportByteClass.allCases {
            let kind = byteClass.kind
            let family: FrameFamily = kind.family == .ipv4 ? .ipv4 : .ipv6
            let fragment = kind.family == .ipv4 ? 0 : unknown
            for value in 0...255 {
                add(PacketClassifier.transportByteKey(byteClass, byte: UInt8(value))) {
                    holds($0, family: family, fragment: fragment, protocolKey: Int(kind.ipProtocol), sets: $1, byte: (byteClass, UInt8(value)))
                }
            }
        }
        return (rows, keys)
    }

    // MARK: Addresses

    /// Each distinct prefix on `side` with its row: the entries whose prefix contains it (the
    /// longest stored prefix containing an address names the address's class).
    private static func prefixRows(_ conjunctions: [FieldConjunction?], side: PacketSide, rows: inout FieldRows)
        -> (ipv4: [(prefix: AddressPrefix, row: UInt32)], ipv6: [(prefix: AddressPrefix, row: UInt32)]) {
        let none = rows.rows[0]
        var own: [AddressPrefix: EntryBits] = [:], order: [AddressPrefix] = []
        for (index, c) in conjunctions.enumerated() {
            guard let c, let prefix = c.addressPrefix(side) else { continue }
            if own[prefix] == nil { order.append(prefix); own[prefix] = EntryBits(words: none.words.count) }
            own[prefix]!.insert(index)
        }
        var lengths: [AddressFamily: [Int]] = [:]
        for family in AddressFamily.allCases { lengths[family] = Set(order.filter { $0.family == family }.map(\.length)).sorted() }
        var result: (ipv4: [(prefix: AddressPrefix, row: UInt32)], ipv6: [(prefix: AddressPrefix, row: UInt32)]) = ([], [])
        for prefix in order.sorted(by: Self.prefixOrder) {
            var bits = none
            for length in lengths[prefix.family]! {
                if length > prefix.length { break }
                if let shorter = own[prefix.truncated(to: length)] { bits.formUnion(shorter) }
            }
            let row = rows.row(for: bits)
            if prefix.family == .ipv4 { result.ipv4.append((prefix, row)) } else { result.ipv6.append((prefix, row)) }
        }
        return result
    }

    /// The set tests of a conjunction, source first.
    static func setTestsOf(_ c: FieldConjunction) -> [PacketClassifier.SetTest] {
        c.sourceSets.sorted().map { PacketClassifier.SetTest(name: $0, side: .source) }
            + c.destinationSets.sorted().map { PacketClassifier.SetTest(name: $0, side: .destination) }
    }

    static func prefixOrder(_ a: AddressPrefix, _ b: AddressPrefix) -> Bool {
        (a.length, a.high, a.low) < (b.length, b.high, b.low)
    }

    // MARK: Ports

    /// The port array entries of `side` (index: port, + 65,536 for the destination) for the
    /// elementary intervals whose row is not 0.
    private static func portRows(_ conjunctions: [FieldConjunction?], side: PacketSide, rows: inout FieldRows) -> [(index: UInt32, row: UInt32)] {
        var starts: [Int: [Int]] = [:], ends: [Int: [Int]] = [:]
        for (index, c) in conjunctions.enumerated() {
            guard let c, let range = side == .source ? c.sourcePorts : c.destinationPorts else { continue }
            starts[Int(range.lowerBound), default: []].append(index)
            ends[Int(range.upperBound) + 1, default: []].append(index)
        }
        let boundaries = Set(starts.keys).union(ends.keys).union([0, 65_536]).sorted()
        var active = rows.rows[0], result: [(index: UInt32, row: UInt32)] = []
        let base: UInt32 = side == .source ? 0 : 65_536
        for (low, high) in zip(boundaries, boundaries.dropFirst()) {
            for entry in ends[low] ?? [] { active.remove(entry) }
            for entry in starts[low] ?? [] { active.insert(entry) }
            let row = rows.row(for: active)
            guard row != 0 else { continue }
            for port in low..<high { result.append((base + UInt32(port), row)) }
        }
        return result
    }
}

/// The IPv4 address trie in one array: 65,536 first-level entries per side indexed by the top
/// 16 bits, then 256-entry nodes for the next byte and the last, made where a prefix is longer
/// than 16 (or 24) bits. Leaf pushing: every entry holds the row of the longest prefix that
/// covers it, so one walk ends at the address's row.
struct AddressTrie {
    private static let sides = 2 * PacketClassifier.trieFirstLevel
    private var firstLevel = [UInt32](repeating: 0, count: sides)
    private var nodes: [UInt32] = []

    var length: Int { Self.sides + nodes.count }

    /// The non-zero entries.
    var entries: [(index: UInt32, value: UInt32)] {
        var result: [(index: UInt32, value: UInt32)] = []
        for (index, value) in (firstLevel + nodes).enumerated() where value != 0 { result.append((UInt32(index), value)) }
        return result
    }

    /// One side's prefixes with their rows; its first level starts at `base`.
    mutating func add(_ prefixes: [(prefix: AddressPrefix, row: UInt32)], base: UInt32) {
        let sorted = prefixes.sorted { ClassifierBuilder.prefixOrder($0.prefix, $1.prefix) }
        for (prefix, row) in sorted {
            let address = UInt32(truncatingIfNeeded: prefix.high >> 32)
            switch prefix.length {
            case 0...16:
                let start = Int(base) + Int(address >> 16)
                firstLevel.replaceSubrange(start..<start + (1 << (16 - prefix.length)),
                                           with: repeatElement(row, count: 1 << (16 - prefix.length)))
            case 17...24:
                let node = child(of: .first(Int(base) + Int(address >> 16)))
                let start = node + Int(address >> 8 & 0xff)
                nodes.replaceSubrange(start..<start + (1 << (24 - prefix.length)), with: repeatElement(row, count: 1 << (24 - prefix.length)))
            default:
                let second = child(of: .first(Int(base) + Int(address >> 16)))
                let node = child(of: .node(second + Int(address >> 8 & 0xff)))
                let start = node + Int(address & 0xff)
                nodes.replaceSubrange(start..<start + (1 << (32 - prefix.length)), with: repeatElement(row, count: 1 << (32 - prefix.length)))
            }
        }
    }

    private enum Slot { case first(Int), node(Int) }

    /// The node an entry points at (its offset in `nodes`), made from the entry's row if it
    /// points at none yet. Prefixes are added shortest first, so the row is final by then.
    private mutating func child(of slot: Slot) -> Int {
        let value: UInt32
        switch slot {
        case let .first(index): value = firstLevel[index]
        case let .node(index): value = nodes[index]
        }
        if value & PacketClassifier.nodeFlag != 0 { return Int(value & ~PacketClassifier.nodeFlag) - Self.sides }
        let offset = nodes.count
        nodes += repeatElement(value, count: 256)
        let pointer = PacketClassifier.nodeFlag | UInt32(Self.sides + offset)
        switch slot {
        case let .first(index): firstLevel[index] = pointer
        case let .node(index): nodes[index] = pointer
        }
        return offset
    }
}

extension FieldConjunction {
    /// Whether the conjunction reads the address of `side`: a prefix or a set.
    func testsAddress(_ side: PacketSide) -> Bool {
        side == .source ? source != nil || !sourceSets.isEmpty : destination != nil || !destinationSets.isEmpty
    }

    /// The prefix the address trie files the conjunction under on `side`: its own, or for a set
    /// test alone the family's /0 (any address the frame holds; the set's table decides).
    func addressPrefix(_ side: PacketSide) -> AddressPrefix? {
        if let prefix = side == .source ? source : destination { return prefix }
        guard testsAddress(side), let family else { return nil }
        return AddressPrefix(bytes: [UInt8](repeating: 0, count: family == .ipv6 ? 16 : 4), length: 0)
    }
}
