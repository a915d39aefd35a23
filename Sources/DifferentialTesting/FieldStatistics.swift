import EBPF

/// What a 5-tuple ruleset asks of a classifier's tables, field by field: the counts that size
/// per-field lookups (distinct prefixes, elementary port intervals), tuple spaces (distinct
/// prefix-length combinations once port ranges are split into prefixes) and cut trees (the
/// share of wildcards, which cuts replicate). Estimates for docs/design-classifier.md.
public struct FieldStatistics: Sendable {
    public var rules: Int
    public var ipv6Rules: Int
    /// Distinct prefixes (hosts included) per address field, IPv4 and IPv6 apart.
    public var sourcePrefixes: (ipv4: Int, ipv6: Int)
    public var destinationPrefixes: (ipv4: Int, ipv6: Int)
    /// Distinct port ranges per port field, and the elementary intervals their ends cut 0…65535 into.
    public var sourcePortRanges: Int, destinationPortRanges: Int
    public var sourcePortIntervals: Int, destinationPortIntervals: Int
    /// Rules leaving the field out.
    public var wildcards: (source: Int, destination: Int, sourcePort: Int, destinationPort: Int, protocol: Int)
    /// Entries once every port range is split into prefixes (the rule repeated per pair), and the
    /// distinct (source length, destination length, protocol named, source port length,
    /// destination port length) tuples they fall into: a tuple space's hash tables.
    public var prefixExpandedEntries: Int
    public var tuples: Int

    public init(_ rules: [FieldRule]) {
        self.rules = rules.count
        ipv6Rules = rules.filter(\.isIPv6).count
        func distinct(_ field: (FieldRule) -> AddressPrefix?, ipv6: Bool) -> Int {
            Set(rules.compactMap(field).filter { $0.isIPv6 == ipv6 }).count
        }
        sourcePrefixes = (distinct(\.source, ipv6: false), distinct(\.source, ipv6: true))
        destinationPrefixes = (distinct(\.destination, ipv6: false), distinct(\.destination, ipv6: true))
        let sourceRanges = Set(rules.compactMap(\.sourcePorts)), destinationRanges = Set(rules.compactMap(\.destinationPorts))
        sourcePortRanges = sourceRanges.count
        destinationPortRanges = destinationRanges.count
        sourcePortIntervals = Self.elementaryIntervals(sourceRanges)
        destinationPortIntervals = Self.elementaryIntervals(destinationRanges)
        wildcards = (rules.filter { $0.source == nil }.count, rules.filter { $0.destination == nil }.count,
                     rules.filter { $0.sourcePorts == nil }.count, rules.filter { $0.destinationPorts == nil }.count,
                     rules.filter { $0.transport == .any }.count)
        var entries = 0
        var tuples = Set<[Int]>()
        for rule in rules {
            let sourcePorts = rule.sourcePorts.map(Self.prefixLengths) ?? [0]
            let destinationPorts = rule.destinationPorts.map(Self.prefixLengths) ?? [0]
            entries += sourcePorts.count * destinationPorts.count
            for sourceLength in Set(sourcePorts) {
                for destinationLength in Set(destinationPorts) {
                    tuples.insert([rule.isIPv6 ? 1 : 0, rule.source?.length ?? 0, rule.destination?.length ?? 0,
                                   rule.transport == .any ? 0 : 1, sourceLength, destinationLength])
                }
            }
        }
        prefixExpandedEntries = entries
        self.tuples = tuples.count
    }

    /// Rule bit vectors of 64-bit words: one word per 64 rules.
    public var words: Int { (rules + 63) / 64 }

    /// Bytes of a bit-vector (LBVS) classifier: one vector per distinct prefix of each address
    /// trie (plus a default one per trie), per elementary port interval, per protocol (tcp, udp,
    /// icmp, icmp6, other), and 65,536 four-byte port → interval entries per port field.
    public var bitVectorBytes: Int {
        let vectors = sourcePrefixes.ipv4 + sourcePrefixes.ipv6 + destinationPrefixes.ipv4 + destinationPrefixes.ipv6 + 4
            + sourcePortIntervals + destinationPortIntervals + 5
        return vectors * words * 8 + 2 * 65_536 * 4
    }

    /// The intervals that the ends of `ranges` cut 0…65535 into.
    static func elementaryIntervals(_ ranges: Set<PortRange>) -> Int {
        var cuts = Set<Int>([0])
        for range in ranges {
            cuts.insert(Int(range.lower))
            if range.upper < 65535 { cuts.insert(Int(range.upper) + 1) }
        }
        return cuts.count
    }

    /// The lengths (bits of 16) of the prefixes that cover `range` exactly, as a TCAM or a
    /// tuple space splits it (at most 30 for a 16-bit field).
    static func prefixLengths(_ range: PortRange) -> [Int] {
        var lengths: [Int] = []
        var lower = Int(range.lower)
        let upper = Int(range.upper)
        while lower <= upper {
            var size = lower == 0 ? 1 << 16 : lower & -lower
            while lower + size - 1 > upper { size >>= 1 }
            lengths.append(16 - size.trailingZeroBitCount)
            lower += size
        }
        return lengths
    }
}
