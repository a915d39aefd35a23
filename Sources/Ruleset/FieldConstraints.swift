/// A rule decomposed into field constraints (the first step of issue 10's classifier, and what
/// `check` decides shadowed and duplicate rules on): an `or` of conjunctions, each of them tests
/// of fields of the field model (`PacketField`): the frame's family (ethertype), the IP
/// protocol, "not a later IPv4 fragment", source and destination address prefixes and port
/// ranges. A rule decomposes only when its meaning to libpcap is exactly that `or`
/// (`RuleDecomposition`); the tests hold the matcher below to libpcap's verdicts.

import EBPF
import PacketFormats

/// The kind of frame a conjunction asks for: its ethertype, on an untagged Ethernet frame.
public enum FrameFamily: String, Hashable, Sendable, CaseIterable {
    case ipv4, ipv6, arp, reverseARP = "rarp"

    public var etherType: UInt32 {
        switch self {
        case .ipv4: Protocols.EtherType.ip
        case .ipv6: Protocols.EtherType.ip6
        case .arp: Protocols.EtherType.arp
        case .reverseARP: Protocols.EtherType.reverseARP
        }
    }

    /// The IP version of the family; nil for ARP and RARP (their addresses are IPv4 addresses).
    public var addressFamily: AddressFamily? {
        switch self {
        case .ipv4: .ipv4
        case .ipv6: .ipv6
        case .arp, .reverseARP: nil
        }
    }
}

/// One conjunction: a frame matches when every constraint holds. A field left nil is not tested.
public struct FieldConjunction: Hashable, Sendable {
    /// nil only for the conjunction of no tests at all (the empty expression: every frame).
    public var family: FrameFamily?
    /// IPv4's protocol field, IPv6's next header field of the fixed header.
    public var ipProtocol: UInt8?
    /// IPv6 only: the next header field of a fragment header right after the fixed header
    /// (`ipProtocol` is then 44). libpcap's `tcp`, `udp`... accept TCP behind one fragment header.
    public var fragmentNextHeader: UInt8?
    /// IPv4 only: the fragment offset is zero (libpcap's port tests exclude later fragments).
    public var firstFragment = false
    public var source: AddressPrefix?
    public var destination: AddressPrefix?
    /// Sets (`src net @NAME`) the source address must be in, each: the classifier looks the
    /// address up in the set's own table, which `xdpfw set add|del` changes in place. The
    /// entries are not here (`RuleDecomposition.conjunctions(ofSetRule:sets:)`).
    public var sourceSets: Set<String> = []
    public var destinationSets: Set<String> = []
    public var sourcePorts: ClosedRange<UInt16>?
    public var destinationPorts: ClosedRange<UInt16>?
    /// A test of one byte of the transport header: TCP's flags (IPv4 TCP, first fragment),
    /// or the ICMP type (IPv4 ICMP, first fragment; ICMPv6 after the fixed header).
    public var transportByte: TransportByteTest?

    public init(family: FrameFamily? = nil) { self.family = family }

    /// The fields of the field model this conjunction tests.
    public var fields: Set<PacketField> {
        var fields: Set<PacketField> = []
        if family != nil { fields.insert(.etherType) }
        if ipProtocol != nil { fields.insert(.ipProtocol) }
        if firstFragment { fields.insert(.fragmentOffset) }
        if source != nil || !sourceSets.isEmpty { fields.insert(.sourceAddress) }
        if destination != nil || !destinationSets.isEmpty { fields.insert(.destinationAddress) }
        if sourcePorts != nil { fields.insert(.sourcePort) }
        if destinationPorts != nil { fields.insert(.destinationPort) }
        if let transportByte { fields.insert(transportByte.field) }
        return fields
    }

    /// Whether this conjunction matches every frame `other` matches, decided field by field:
    /// each of this one's constraints is a superset of the same constraint of `other`.
    public func covers(_ other: FieldConjunction) -> Bool {
        if let family, family != other.family { return false }
        if let ipProtocol, ipProtocol != other.ipProtocol { return false }
        if let fragmentNextHeader, fragmentNextHeader != other.fragmentNextHeader { return false }
        if firstFragment && !other.firstFragment { return false }
        // Whatever a set holds: each set this one tests, the other tests too.
        guard sourceSets.isSubset(of: other.sourceSets), destinationSets.isSubset(of: other.destinationSets) else { return false }
        if let transportByte {
            guard let narrow = other.transportByte, narrow.field == transportByte.field,
                  narrow.values.isSubset(of: transportByte.values) else { return false }
        }
        return Self.covers(source, other.source) && Self.covers(destination, other.destination)
            && Self.covers(sourcePorts, other.sourcePorts) && Self.covers(destinationPorts, other.destinationPorts)
    }

    /// Both conjunctions at once, nil when no frame can match both.
    public func intersection(_ other: FieldConjunction) -> FieldConjunction? {
        var both = self
        guard Self.meet(&both.family, other.family), Self.meet(&both.ipProtocol, other.ipProtocol),
              Self.meet(&both.fragmentNextHeader, other.fragmentNextHeader) else { return nil }
        both.firstFragment = firstFragment || other.firstFragment
        both.sourceSets.formUnion(other.sourceSets)
        both.destinationSets.formUnion(other.destinationSets)
        guard let source = Self.intersection(source, other.source), let destination = Self.intersection(destination, other.destination),
              let sourcePorts = Self.intersection(sourcePorts, other.sourcePorts),
              let destinationPorts = Self.intersection(destinationPorts, other.destinationPorts) else { return nil }
        (both.source, both.destination, both.sourcePorts, both.destinationPorts) = (source, destination, sourcePorts, destinationPorts)
        if let test = other.transportByte {
            if let mine = transportByte {
                // Tests of two different bytes are of different protocols (TCP's flags, an ICMP
                // type): no packet has both. A second byte of one protocol would need a field each.
                guard mine.field == test.field else { return nil }
                both.transportByte = TransportByteTest(mine.field, values: mine.values.intersection(test.values))
            } else {
                both.transportByte = test
            }
        }
        if both.transportByte?.values.isEmpty == true { return nil }
        return both
    }

    // MARK: Field by field

    private static func covers(_ wide: AddressPrefix?, _ narrow: AddressPrefix?) -> Bool {
        guard let wide else { return true }
        guard let narrow else { return false }
        return narrow.family == wide.family && narrow.length >= wide.length && narrow.truncated(to: wide.length) == wide
    }

    private static func covers(_ wide: ClosedRange<UInt16>?, _ narrow: ClosedRange<UInt16>?) -> Bool {
        guard let wide else { return true }
        guard let narrow else { return false }
        return wide.lowerBound <= narrow.lowerBound && narrow.upperBound <= wide.upperBound
    }

    /// Keeps the one that is set; false when both are set and differ.
    private static func meet<T: Equatable>(_ value: inout T?, _ other: T?) -> Bool {
        guard let other else { return true }
        if let value, value != other { return false }
        value = other
        return true
    }

    /// `.some(nil)`: no constraint; nil: the constraints exclude each other.
    private static func intersection(_ a: AddressPrefix?, _ b: AddressPrefix?) -> AddressPrefix?? {
        guard let a else { return .some(b) }
        guard let b else { return .some(a) }
        if covers(a, b) { return .some(b) }
        if covers(b, a) { return .some(a) }
        return nil
    }

    private static func intersection(_ a: ClosedRange<UInt16>?, _ b: ClosedRange<UInt16>?) -> ClosedRange<UInt16>?? {
        guard let a else { return .some(b) }
        guard let b else { return .some(a) }
        guard a.overlaps(b) else { return nil }
        return .some(max(a.lowerBound, b.lowerBound)...min(a.upperBound, b.upperBound))
    }
}

/// A test of one byte of the transport header (`tcp[tcpflags] & tcp-syn != 0`,
/// `icmp[icmptype] = icmp-echo`): the byte values that pass, whatever the expression computed.
public struct TransportByteTest: Hashable, Sendable {
    /// `.tcpFlags` or `.icmpType` (ICMP and ICMPv6).
    public var field: PacketField
    public var values: ByteValues

    public init(_ field: PacketField, values: ByteValues) {
        self.field = field
        self.values = values
    }
}

/// A set of byte values, 0...255.
public struct ByteValues: Hashable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public init(where test: (UInt8) -> Bool) {
        for value in 0...255 where test(UInt8(value)) { insert(UInt8(value)) }
    }

    public func contains(_ value: UInt8) -> Bool { word(value >> 6) >> UInt64(value & 63) & 1 != 0 }
    public var isEmpty: Bool { words == (0, 0, 0, 0) }
    public var count: Int { [words.0, words.1, words.2, words.3].reduce(0) { $0 + $1.nonzeroBitCount } }

    public mutating func insert(_ value: UInt8) {
        let bit: UInt64 = 1 << UInt64(value & 63)
        switch value >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    public mutating func formUnion(_ other: ByteValues) {
        words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
    }

    public func intersection(_ other: ByteValues) -> ByteValues {
        var both = ByteValues()
        both.words = (words.0 & other.words.0, words.1 & other.words.1, words.2 & other.words.2, words.3 & other.words.3)
        return both
    }

    public func isSubset(of other: ByteValues) -> Bool { intersection(other) == self }

    private func word(_ index: UInt8) -> UInt64 {
        switch index {
        case 0: words.0
        case 1: words.1
        case 2: words.2
        default: words.3
        }
    }

    public static func == (a: ByteValues, b: ByteValues) -> Bool { a.words == b.words }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }
}
