/// From a rule's syntax tree to its field constraints, only where the meaning is certain: what
/// libpcap's code tests for each primitive on an Ethernet frame, written as conjunctions.
///
/// - `tcp`, `udp`, `sctp`: IPv4 protocol N, IPv6 next header N, or IPv6 next header 44 (a
///   fragment header) whose own next header is N. `icmp` is IPv4 only, `icmp6` IPv6 only.
/// - `[tcp|udp|sctp] [src|dst] port N` / `portrange A-B`: on IPv6 the next header of the fixed
///   header and the ports after it; on IPv4 the protocol, a fragment offset of zero, and the
///   ports after the header IHL says. No protocol named means TCP, UDP or SCTP.
/// - `[src|dst] host|net` with an IPv4 address: IPv4 addresses, and the sender/target protocol
///   addresses of ARP and RARP (unless `ip`, `arp` or `rarp` names one). IPv6: IPv6 only.
/// - `src or dst` (the default) is an `or` of the two sides, `src and dst` one conjunction.
/// - `ip proto N`: IPv4 protocol N; `ip6 proto N`: as `tcp` above for N; `proto N`: both.
///   `ether proto T`: the family, for IPv4, IPv6, ARP and RARP. `net A mask M`: a prefix when
///   M is contiguous.
/// - A comparison of TCP's flags (`tcp[13]`), the ICMP type (`icmp[0]`) or the ICMPv6 type
///   (`icmp6[0]`) with constants: the packets libpcap loads the byte from, and the byte values
///   for which the comparison holds.
/// - `tcp[2:2] = 80`, `udp[0:2] >= 1024` (a port of an IPv4 first fragment, compared with a
///   constant): port ranges.
/// - `not` of an address test, beside a test that names the family: the complement's prefixes.
/// Anything else (other `not`s, names, other loads, `vlan`, `len`...) does not decompose.

import FilterLanguage
import EBPF
import PacketFormats

public enum RuleDecomposition {
    /// More conjunctions than this and the rule is left undecomposed (an `and` of `or`s multiplies).
    public static let maximumConjunctions = 4096
    /// Sets with more entries in all than this are not written out to be decomposed.
    public static let maximumSetEntries = 1024

    /// The rule's conjunctions (it matches when any does), nil when it does not decompose.
    public static func conjunctions(of rule: Rule) -> [FieldConjunction]? {
        conjunctions(of: rule.expression, sets: rule.sets)
    }

    /// An expression's conjunctions, its sets (`@NAME`) written out entry by entry.
    public static func conjunctions(of expression: String, sets: [String: [String]] = [:]) -> [FieldConjunction]? {
        var text = expression
        if expression.utf8.contains(UInt8(ascii: "@")) {
            let used = SetExpansion.setNames(in: expression).reduce(0) { $0 + (sets[$1]?.count ?? 0) }
            guard used <= maximumSetEntries, case let .success(expanded) = SetExpansion.expanding(expression, sets: sets) else { return nil }
            text = expanded.text
        }
        guard let tree = try? FilterParser.parse(text) else { return nil }
        return conjunctions(of: tree)
    }

    /// A rule that names sets, as the classifier reads it: each `QUALIFIERS @NAME` a test that
    /// the address is in the set (`FieldConjunction.sourceSets`...), whatever its entries are,
    /// so that `xdpfw set add|del` changes only the set's own table. Nil when the rule does not
    /// decompose so, or when an entry of a set it names is not `classifierSetEntry`.
    ///
    /// Each set is written out as an address of each family standing for it (a marker), the
    /// expression decomposed, and the markers' conjunctions made set tests. Both families
    /// first, whatever the set holds now (a later `set add` may bring the other); when that does
    /// not decompose (`ip src net @S`), the families the set holds.
    public static func conjunctions(ofSetRule expression: String, sets: [String: [String]]) -> [FieldConjunction]? {
        let names = SetExpansion.setNames(in: expression)
        guard !names.isEmpty, names.count <= 250 else { return nil }
        var families: [String: Set<AddressFamily>] = [:]
        for name in names {
            guard let entries = sets[name], !entries.isEmpty else { return nil }
            for entry in entries {
                guard let prefix = classifierSetEntry(entry) else { return nil }
                families[name, default: []].insert(prefix.family)
            }
        }
        // Two sets of stand-ins: an address the rule names itself (in any spelling) is taken for
        // a set by one and not by the other, and the two then differ.
        guard let first = conjunctions(ofSetRule: expression, names: names, families: families, standIn: 0),
              first == conjunctions(ofSetRule: expression, names: names, families: families, standIn: 1) else { return nil }
        return first
    }

    /// `conjunctions(ofSetRule:sets:)` with the sets written out as stand-in addresses
    /// (`standIn` picks one of two series).
    private static func conjunctions(ofSetRule expression: String, names: [String], families: [String: Set<AddressFamily>],
                                     standIn: Int) -> [FieldConjunction]? {
        for everyFamily in [true, false] {
            var written: [String: [String]] = [:], markers: [AddressPrefix: String] = [:]
            for (index, name) in names.enumerated() {
                let ipv4 = "240.255.\(254 - standIn).\(index + 1)"
                let ipv6 = "fdff:ffff:ffff:ffff:ffff:ffff:\(String(0xfffe - standIn, radix: 16)):\(String(index + 1, radix: 16))"
                for (text, family) in [(ipv4, AddressFamily.ipv4), (ipv6, .ipv6)] where everyFamily || families[name]!.contains(family) {
                    written[name, default: []].append(text)
                    markers[MergeableRule.prefix(.host, family == .ipv4 ? .dotted(text) : .ipv6(text))!] = name
                }
            }
            guard case let .success(expanded) = SetExpansion.expanding(expression, sets: written) else { continue }
            // One direction per set: `src and dst net @S` is `(src and dst net A or B)`, both
            // addresses in one entry, which no pair of set tests says; `net @S` (`src or dst`)
            // reads the destination of entry A before the source of entry B, so on a frame cut
            // between the two addresses libpcap's verdict hangs on the order of the entries.
            let bytes = Array(expanded.text.utf8)
            guard expanded.replacements.allSatisfy({ replacement in
                let words = String(decoding: bytes[replacement.expanded], as: UTF8.self).dropFirst().split(separator: " ")
                let qualifiers = words.prefix { SetExpansion.qualifierWords.contains(String($0)) || $0 == "or" || $0 == "and" }
                return qualifiers.contains("src") != qualifiers.contains("dst")
            }) else { return nil }
            guard let tree = try? FilterParser.parse(expanded.text) else { continue }
            // No `not` beside a set: `not src net P or src net @S` passes every source once the
            // set holds P, and libpcap then drops the address load (a short frame matches) —
            // which the entries of the day decide, not the rule.
            guard !tree.containsNot else { return nil }
            if let conjunctions = conjunctions(of: tree, markers: markers) { return conjunctions }
        }
        return nil
    }

    /// A set entry the classifier's set tables can hold: an IPv4 address or prefix (not /0: `net
    /// 0/0` reads no address), an IPv6 address or prefix longer than /96 (libpcap reads only the
    /// words a shorter prefix covers, and decides a frame that ends inside the address by them).
    public static func classifierSetEntry(_ entry: String) -> AddressPrefix? {
        let prefix: AddressPrefix?
        switch SetExpansion.identifier(entry) {
        case let identifier? where { if case .prefix = identifier { return true }; return false }():
            prefix = MergeableRule.prefix(.net, identifier)
        case let identifier?:
            prefix = MergeableRule.prefix(.host, identifier)
        case nil:
            prefix = nil
        }
        guard let prefix, prefix.length > 0, prefix.family == .ipv4 || prefix.length > 96 else { return nil }
        return prefix
    }

    /// A rule decomposes only when no conjunction can lose its match to a load past the end of
    /// a short frame: libpcap stops there and rejects, so every test it may run before a
    /// conjunction matches (earlier halves of an `or`, earlier primitives of an `and`) must read
    /// no further into the frame than the conjunction itself (`tcp src port 80 or src net
    /// 10.0.0.0/8` does not decompose: on a TCP frame cut in its ports libpcap rejects before it
    /// looks at the address). Then the `or` of the conjunctions is exactly libpcap's verdict.
    public static func conjunctions(of expression: FilterExpression) -> [FieldConjunction]? {
        conjunctions(of: expression, markers: [:])
    }

    /// With `markers`: addresses that stand for sets (`conjunctions(ofSetRule:sets:)`).
    private static func conjunctions(of expression: FilterExpression, markers: [AddressPrefix: String]) -> [FieldConjunction]? {
        guard let tree = decomposition(of: expression, markers: markers), !tree.otherFamilies,
              tree.terms.allSatisfy({ term in term.before.map { $0.isWithin(term.conjunction.reach) } ?? true }) else { return nil }
        // Tests of one field that together pass every value (`tcp[13] & 2 != 0 or tcp[13] & 2 = 0`,
        // `not src net P or src net P`): libpcap's optimizer drops the load, and a frame too short
        // for the field then matches. (Conservative: `src net 0/1 or src net 128/1` keeps its
        // loads in libpcap, and stays a filter too.)
        // Ports likewise where two or more ranges make up every port (`tcp[2:2] < 80 or tcp[2:2] >= 80`;
        // one `portrange 0-65535` keeps its load in libpcap).
        // One field of one kind of packet (the protocol only where it tells ports apart).
        struct Place: Hashable {
            var family: FrameFamily?, ipProtocol: UInt8? = nil, field: PacketField
        }
        var byteValues: [Place: ByteValues] = [:]
        var prefixes: [Place: [AddressPrefix]] = [:]
        var ports: [Place: Set<ClosedRange<UInt16>>] = [:]
        for conjunction in tree.terms.map(\.conjunction) {
            let family = conjunction.family
            if let test = conjunction.transportByte {
                byteValues[Place(family: family, field: test.field), default: ByteValues()].formUnion(test.values)
            }
            if let source = conjunction.source { prefixes[Place(family: family, field: .sourceAddress), default: []].append(source) }
            if let destination = conjunction.destination {
                prefixes[Place(family: family, field: .destinationAddress), default: []].append(destination)
            }
            if let range = conjunction.sourcePorts {
                ports[Place(family: family, ipProtocol: conjunction.ipProtocol, field: .sourcePort), default: []].insert(range)
            }
            if let range = conjunction.destinationPorts {
                ports[Place(family: family, ipProtocol: conjunction.ipProtocol, field: .destinationPort), default: []].insert(range)
            }
        }
        guard byteValues.values.allSatisfy({ $0.count < 256 }), !prefixes.values.contains(where: coverEveryAddress),
              !ports.values.contains(where: { $0.count > 1 && coverEveryPort($0) }) else { return nil }
        return distinct(tree.terms.map(\.conjunction))
    }

    /// A conjunction, and how far into a frame of its family the tests libpcap may run before
    /// it matches read (nil: none).
    private struct Term {
        var conjunction: FieldConjunction
        var before: FrameReach?
    }

    /// A subexpression's conjunctions in libpcap's order, and how far into frames of each
    /// family all its tests may read.
    private struct Decomposition {
        var terms: [Term]
        var reads: [FrameFamily: FrameReach]
        /// Also every frame of a family the field model does not name (`not src net P` matches
        /// those): no conjunction can say that, so such a decomposition counts only once an
        /// `and` with a family has taken it away.
        var otherFamilies = false

        init(_ conjunctions: [FieldConjunction]) {
            terms = []
            reads = [:]
            for conjunction in conjunctions {
                let family = conjunction.family
                terms.append(Term(conjunction: conjunction, before: family.flatMap { reads[$0] }))
                if let family { reads[family] = reads[family].map { $0.union(conjunction.reach) } ?? conjunction.reach }
            }
        }

        init(terms: [Term], reads: [FrameFamily: FrameReach]) { self.terms = terms; self.reads = reads }

        static func or(_ left: Decomposition, _ right: Decomposition) -> Decomposition {
            let later = right.terms.map { term in
                Term(conjunction: term.conjunction, before: FrameReach.union(term.before, term.conjunction.family.flatMap { left.reads[$0] }))
            }
            var both = Decomposition(terms: left.terms + later, reads: left.reads.merging(right.reads) { $0.union($1) })
            both.otherFamilies = left.otherFamilies || right.otherFamilies
            return both
        }

        static func and(_ left: Decomposition, _ right: Decomposition) -> Decomposition {
            let pairs = left.terms.flatMap { one in
                right.terms.compactMap { other in
                    one.conjunction.intersection(other.conjunction).map { Term(conjunction: $0, before: FrameReach.union(one.before, other.before)) }
                }
            }
            var both = Decomposition(terms: pairs, reads: left.reads.merging(right.reads) { $0.union($1) })
            both.otherFamilies = left.otherFamilies && right.otherFamilies
            return both
        }
    }

    private static func decomposition(of expression: FilterExpression, markers: [AddressPrefix: String]) -> Decomposition? {
        switch expression {
        case .empty:
            return Decomposition([FieldConjunction()])
        case let .or(left, right):
            guard let left = decomposition(of: left, markers: markers), let right = decomposition(of: right, markers: markers),
                  left.terms.count + right.terms.count <= maximumConjunctions else { return nil }
            return .or(left, right)
        case let .and(left, right):
            guard let left = decomposition(of: left, markers: markers), let right = decomposition(of: right, markers: markers),
                  left.terms.count * right.terms.count <= maximumConjunctions else { return nil }
            return .and(left, right)
        case let .proto(name, _):
            return protocolName(name).map(Decomposition.init)
        case let .qualified(qualifiers, identifier, _, _):
            switch qualifiers.type {
            case .port?, .portrange?: return ports(qualifiers, identifier).map(Decomposition.init)
            case nil, .host?, .net?: return addresses(qualifiers, identifier, markers: markers).map(Decomposition.init)
            case .proto?: return protocolField(qualifiers, identifier).map(Decomposition.init)
            default: return nil
            }
        case let .comparison(relation, left, right, _):
            return (transportByte(relation, left, right) ?? portField(relation, left, right)).map(Decomposition.init)
        case let .not(inner, _):
            return negatedAddress(inner, markers: markers)
        case .special:
            return nil
        }
    }

    // MARK: Primitives

    /// The protocols that carry ports.
    private static let transportNumbers: [ProtocolQualifier: UInt32] = [
        .tcp: Protocols.IPProtocol.tcp, .udp: Protocols.IPProtocol.udp, .sctp: Protocols.IPProtocol.sctp,
    ]

    /// `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `ip`, `ip6`, `arp`, `rarp` written alone.
    private static func protocolName(_ name: ProtocolQualifier) -> [FieldConjunction]? {
        switch name {
        case .ip: return [FieldConjunction(family: .ipv4)]
        case .ip6: return [FieldConjunction(family: .ipv6)]
        case .arp: return [FieldConjunction(family: .arp)]
        case .rarp: return [FieldConjunction(family: .reverseARP)]
        case .icmp: return [carrying(.ipv4, Protocols.IPProtocol.icmp)]
        case .icmp6: return ipv6Carrying(Protocols.IPProtocol.icmp6)
        case .tcp, .udp, .sctp:
            let number = transportNumbers[name]!
            return [carrying(.ipv4, number)] + ipv6Carrying(number)
        default: return nil
        }
    }

    private static func carrying(_ family: FrameFamily, _ number: UInt32) -> FieldConjunction {
        var conjunction = FieldConjunction(family: family)
        conjunction.ipProtocol = UInt8(number)
        return conjunction
    }

    /// IPv6 next header N, or a fragment header first whose next header is N.
    private static func ipv6Carrying(_ number: UInt32) -> [FieldConjunction] {
        var fragment = carrying(.ipv6, Protocols.IPProtocol.fragment)
        fragment.fragmentNextHeader = UInt8(number)
        return [carrying(.ipv6, number), fragment]
    }

    /// The IP protocol numbers `proto \\NAME` may name here (the ones every protocols file agrees
    /// on; libpcap knows ICMPv6 as `ipv6-icmp` there, not `icmp6`).
    private static let protocolNames: [String: UInt32] = [
        "icmp": Protocols.IPProtocol.icmp, "tcp": Protocols.IPProtocol.tcp, "udp": Protocols.IPProtocol.udp,
        "sctp": Protocols.IPProtocol.sctp, "ipv6-icmp": Protocols.IPProtocol.icmp6,
    ]

    /// `ip proto N` (IPv4's protocol field), `ip6 proto N` (IPv6's next header, or a fragment
    /// header's after it), `proto N` (either), `ether proto T` for the four families.
    private static func protocolField(_ qualifiers: Qualifiers, _ identifier: Identifier) -> [FieldConjunction]? {
        guard qualifiers.direction == nil else { return nil }
        if qualifiers.proto == .ether {
            let type: UInt32?
            switch identifier {
            case let .number(number): type = number
            case let .name(name): type = Protocols.etherProtocolNames[name]
            default: type = nil
            }
            return FrameFamily.allCases.first { $0.etherType == type }.map { [FieldConjunction(family: $0)] }
        }
        let number: UInt32?
        switch identifier {
        case let .number(value): number = value
        case let .name(name): number = protocolNames[name]
        default: number = nil
        }
        guard let number, number <= 255 else { return nil }
        // IPv6: the fixed header's next header, or a fragment header's after it (`ip6 proto 44`
        // is only the first: a fragment header is what it asks for).
        let ipv6 = number == Protocols.IPProtocol.fragment ? [carrying(.ipv6, number)] : ipv6Carrying(number)
        switch qualifiers.proto {
        case .ip?: return [carrying(.ipv4, number)]
        case .ip6?: return ipv6
        case nil: return [carrying(.ipv4, number)] + ipv6
        default: return nil
        }
    }

    /// `tcp[13] & 2 != 0`, `tcp[tcpflags] = tcp-syn`, `icmp[icmptype] != icmp-echo`,
    /// `icmp6[0] = 128`: a comparison of one byte libpcap loads (TCP's flags, an ICMP or ICMPv6
    /// type) with constants, decided for each of the 256 values the byte can have. Not when the
    /// byte's value does not matter (libpcap's optimizer may then drop the load, and with it the
    /// rejection of a frame too short to hold it).
    private static func transportByte(_ relation: RelationalOperator, _ left: ArithmeticExpression,
                                      _ right: ArithmeticExpression) -> [FieldConjunction]? {
        guard let load = ByteExpression.load(in: left) ?? ByteExpression.load(in: right) else { return nil }
        var failed = false
        let values = ByteValues { byte in
            guard let a = ByteExpression.value(left, load, byte), let b = ByteExpression.value(right, load, byte) else {
                failed = true
                return false
            }
            switch relation {
            case .equal: return a == b
            case .notEqual: return a != b
            case .greater: return a > b
            case .greaterOrEqual: return a >= b
            case .less: return a < b
            case .lessOrEqual: return a <= b
            }
        }
        guard !failed, !values.isEmpty, values.count < 256 else { return nil }
        var conjunction: FieldConjunction
        switch load.proto {
        case .tcp:
            conjunction = carrying(.ipv4, Protocols.IPProtocol.tcp)
            conjunction.firstFragment = true
        case .icmp:
            conjunction = carrying(.ipv4, Protocols.IPProtocol.icmp)
            conjunction.firstFragment = true
        default:
            conjunction = carrying(.ipv6, Protocols.IPProtocol.icmp6)
        }
        conjunction.transportByte = TransportByteTest(load.field, values: values)
        return [conjunction]
    }

    /// `tcp[2:2] = 80`, `udp[0:2] >= 1024`, `1024 <= sctp[0:2]`: a port of an IPv4 first
    /// fragment (libpcap's `tcp[]` is IPv4 only) compared with a constant, as port ranges (two
    /// for `!=`). Not when no port or every port passes.
    private static func portField(_ relation: RelationalOperator, _ left: ArithmeticExpression,
                                  _ right: ArithmeticExpression) -> [FieldConjunction]? {
        func portLoad(_ e: ArithmeticExpression) -> (ProtocolQualifier, PacketSide)? {
            guard case let .load(proto, .constant(offset, _), 2, _) = e, transportNumbers[proto] != nil else { return nil }
            switch offset {
            case Protocols.Port.source: return (proto, .source)
            case Protocols.Port.destination: return (proto, .destination)
            default: return nil
            }
        }
        let flipped: [RelationalOperator: RelationalOperator] = [.less: .greater, .lessOrEqual: .greaterOrEqual,
                                                                  .greater: .less, .greaterOrEqual: .lessOrEqual]
        let load: (ProtocolQualifier, PacketSide), constant: ArithmeticExpression, op: RelationalOperator
        if let found = portLoad(left) { (load, constant, op) = (found, right, relation) }
        else if let found = portLoad(right) { (load, constant, op) = (found, left, flipped[relation] ?? relation) }
        else { return nil }
        guard let c = ByteExpression.constantValue(constant) else { return nil }
        let top = UInt32(UInt16.max)
        func range(_ low: UInt32, _ high: UInt32) -> [ClosedRange<UInt16>] {
            low <= high && low <= top ? [UInt16(low)...UInt16(min(high, top))] : []
        }
        let ranges: [ClosedRange<UInt16>]
        switch op {
        case .equal: ranges = range(c, c)
        case .notEqual: ranges = c > top ? [0...UInt16.max] : (c > 0 ? range(0, c - 1) : []) + range(c + 1, top)
        case .less: ranges = c > 0 ? range(0, c - 1) : []
        case .lessOrEqual: ranges = range(0, c)
        case .greater: ranges = c < top ? range(c + 1, top) : []
        case .greaterOrEqual: ranges = range(c, top)
        }
        guard !ranges.isEmpty, ranges != [0...UInt16.max] else { return nil }
        return ranges.map { ports in
            var conjunction = carrying(.ipv4, transportNumbers[load.0]!)
            conjunction.firstFragment = true
            if load.1 == .source { conjunction.sourcePorts = ports } else { conjunction.destinationPorts = ports }
            return conjunction
        }
    }

    private static func ports(_ qualifiers: Qualifiers, _ identifier: Identifier) -> [FieldConjunction]? {
        let range: ClosedRange<UInt16>
        switch (qualifiers.type, identifier) {
        case let (_, .number(number)):
            guard let port = UInt16(exactly: number) else { return nil }
            range = port...port
        case let (.portrange?, .name(text)):
            let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, bounds.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
                  let low = UInt16(bounds[0]), let high = UInt16(bounds[1]) else { return nil }
            range = min(low, high)...max(low, high)
        default:
            return nil
        }
        let named = qualifiers.proto.map { transportNumbers[$0].map { [$0] } }
        guard let protocols = named ?? [Protocols.IPProtocol.tcp, Protocols.IPProtocol.udp, Protocols.IPProtocol.sctp] else { return nil }
        guard let sides = sides(qualifiers.direction) else { return nil }
        var all: [FieldConjunction] = []
        for family in [FrameFamily.ipv6, .ipv4] {
            for number in protocols {
                var base = carrying(family, number)
                base.firstFragment = family == .ipv4
                all += sides.map { side in
                    var conjunction = base
                    if side.contains(.source) { conjunction.sourcePorts = range }
                    if side.contains(.destination) { conjunction.destinationPorts = range }
                    return conjunction
                }
            }
        }
        return all
    }

    private static func addresses(_ qualifiers: Qualifiers, _ identifier: Identifier,
                                  markers: [AddressPrefix: String] = [:]) -> [FieldConjunction]? {
        // `net 0.0.0.0/0`, `net ::/0`: libpcap tests only the family (an address-free wildcard,
        // as ACLs write "any"), on either side.
        if qualifiers.type == .net, case let .prefix(text, 0) = identifier, let bytes = AddressText.networkBytes(text),
           bytes.allSatisfy({ $0 == 0 }), sides(qualifiers.direction) != nil {
            switch (bytes.count, qualifiers.proto) {
            case (4, nil): return [FieldConjunction(family: .ipv4), FieldConjunction(family: .arp), FieldConjunction(family: .reverseARP)]
            case (4, .ip?): return [FieldConjunction(family: .ipv4)]
            case (16, nil), (16, .ip6?): return [FieldConjunction(family: .ipv6)]
            default: return nil
            }
        }
        guard let prefix = MergeableRule.prefix(qualifiers.type, identifier), let sides = sides(qualifiers.direction) else { return nil }
        let families: [FrameFamily]
        switch (prefix.family, qualifiers.proto) {
        case (.ipv4, nil): families = [.ipv4, .arp, .reverseARP]
        case (.ipv4, .ip?): families = [.ipv4]
        case (.ipv4, .arp?): families = [.arp]
        case (.ipv4, .rarp?): families = [.reverseARP]
        case (.ipv6, nil), (.ipv6, .ip6?): families = [.ipv6]
        default: return nil
        }
        let set = markers[prefix]
        return families.flatMap { family in
            sides.map { side in
                var conjunction = FieldConjunction(family: family)
                if let set {
                    if side.contains(.source) { conjunction.sourceSets = [set] }
                    if side.contains(.destination) { conjunction.destinationSets = [set] }
                } else {
                    if side.contains(.source) { conjunction.source = prefix }
                    if side.contains(.destination) { conjunction.destination = prefix }
                }
                return conjunction
            }
        }
    }

    /// `not [ip|arp|rarp] [src|dst|src and dst|src or dst] host|net A`: on the families the
    /// address test reads, the address (each side it tests) in a prefix of the complement of
    /// A's; every frame of the other families (libpcap's test is false there without reading an
    /// address). Its reads are the test's own: a frame too short for the address is rejected,
    /// `not` or not. IPv6 only up to /32 (libpcap reads only the words a prefix covers, and the
    /// complement's prefixes must read as many).
    private static func negatedAddress(_ expression: FilterExpression, markers: [AddressPrefix: String]) -> Decomposition? {
        // Not of a set (its complement changes with every entry) stays a filter.
        guard case let .qualified(qualifiers, identifier, _, _) = expression, [nil, .host, .net].contains(qualifiers.type),
              let positive = addresses(qualifiers, identifier),
              let prefix = positive.lazy.compactMap({ $0.source ?? $0.destination }).first, markers[prefix] == nil,
              prefix.family == .ipv4 || prefix.length <= 32 else { return nil }
        let outside = complement(of: prefix)
        let testedFamilies = Set(positive.compactMap(\.family))
        var conjunctions: [FieldConjunction] = []
        for family in FrameFamily.allCases {
            let frame = FieldConjunction(family: family)
            guard testedFamilies.contains(family) else {
                conjunctions.append(frame)
                continue
            }
            func side(_ source: Bool) -> [FieldConjunction] {
                outside.map { var c = frame; if source { c.source = $0 } else { c.destination = $0 }; return c }
            }
            switch qualifiers.direction {
            case .source?: conjunctions += side(true)
            case .destination?: conjunctions += side(false)
            // Neither side in A: each pair of outside prefixes.
            case nil, .sourceOrDestination?:
                conjunctions += outside.flatMap { source in outside.map { var c = frame; c.source = source; c.destination = $0; return c } }
            // Not both: the source outside, or (read after it) the destination.
            case .sourceAndDestination?: conjunctions += side(true) + side(false)
            default: return nil
            }
        }
        var negated = Decomposition(conjunctions)
        negated.reads = Decomposition(positive).reads
        negated.otherFamilies = true
        return negated
    }

    /// Whether the ranges together hold every port.
    static func coverEveryPort(_ ranges: Set<ClosedRange<UInt16>>) -> Bool {
        var next = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            guard Int(range.lowerBound) <= next else { return false }
            next = max(next, Int(range.upperBound) + 1)
        }
        return next > Int(UInt16.max)
    }

    /// Whether the prefixes (of one address family) together hold every address.
    static func coverEveryAddress(_ prefixes: [AddressPrefix]) -> Bool {
        // Each prefix as the interval of addresses it holds, left-aligned in 128 bits (an IPv4
        // prefix's addresses then differ in their top 32 bits only: the whole space is covered
        // exactly when every IPv4 address is).
        let intervals = prefixes.map { prefix -> (low: UInt128, high: UInt128) in
            let low = UInt128(prefix.high) << 64 | UInt128(prefix.low)
            let free = 128 - prefix.length
            return (low, low | (free >= 128 ? .max : (UInt128(1) << UInt128(free)) - 1))
        }.sorted { $0.low < $1.low }
        var next: UInt128 = 0
        for interval in intervals {
            guard interval.low <= next else { return false }
            if interval.high == .max { return true }
            next = max(next, interval.high + 1)
        }
        return false
    }

    /// The prefixes that together hold exactly the addresses outside `prefix`: for each of its
    /// bits, the addresses that agree with it before that bit and differ there.
    static func complement(of prefix: AddressPrefix) -> [AddressPrefix] {
        let whole = prefix.family.width * 8
        return (0..<prefix.length).map { bit in
            var bytes = prefix.bytes
            bytes[bit / 8] ^= 0x80 >> UInt8(bit % 8)
            return AddressPrefix(bytes: bytes, length: whole)!.truncated(to: bit + 1)
        }
    }

    /// The conjunctions a direction stands for, each the sides it tests.
    private static func sides(_ direction: DirectionQualifier?) -> [Set<PacketSide>]? {
        switch direction {
        case nil, .sourceOrDestination?: return [[.source], [.destination]]
        case .source?: return [[.source]]
        case .destination?: return [[.destination]]
        case .sourceAndDestination?: return [[.source, .destination]]
        default: return nil
        }
    }

    private static func distinct(_ conjunctions: [FieldConjunction]) -> [FieldConjunction] {
        var seen = Set<FieldConjunction>()
        return conjunctions.filter { seen.insert($0).inserted }
    }
}

extension FilterExpression {
    /// Whether `not` appears anywhere in the expression.
    fileprivate var containsNot: Bool {
        switch self {
        case .empty, .qualified, .proto, .comparison, .special: false
        case let .and(left, right), let .or(left, right): left.containsNot || right.containsNot
        case .not: true
        }
    }
}
