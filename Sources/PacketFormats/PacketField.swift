/// The field model: the named packet fields rules are decomposed into, and where each lives in
/// an IPv4 and an IPv6 frame. Data, not code: the eBPF lookups read their offsets here, the
/// packet classifier (a later issue) will match on these fields, and the tests check every
/// location against the loads libpcap's own code makes for the same field.
///
/// Offsets count from the start of the header `FieldLocation.header` names. The transport
/// header follows IPv4's variable header (4 × IHL bytes) and IPv6's fixed one (40 bytes; the
/// field model does not walk extension headers, as libpcap's `port` does not).

/// The IP version a frame carries, as its ethertype says.
public enum AddressFamily: String, Hashable, Sendable, CaseIterable {
    case ipv4, ipv6

    /// Address size in bytes.
    public var width: Int { self == .ipv4 ? 4 : 16 }

    /// The ethertype of frames of this family.
    public var etherType: UInt32 { self == .ipv4 ? Protocols.EtherType.ip : Protocols.EtherType.ip6 }

    /// Where the transport header starts, from the start of the network header, when that is
    /// fixed: IPv6's fixed header; nil for IPv4 (its length is in the IHL field).
    public var fixedTransportOffset: UInt32? { self == .ipv4 ? nil : Protocols.IPv6.headerLength }
}

/// A field a rule can test.
public enum PacketField: String, Hashable, Sendable, CaseIterable {
    /// The Ethernet type field (the address family when it is IPv4 or IPv6).
    case etherType
    /// The VLAN id of the first 802.1Q tag, when the frame carries one inline.
    case vlanID
    /// IPv4's protocol field, IPv6's next header field of the fixed header.
    case ipProtocol
    case sourceAddress, destinationAddress
    /// IPv4's fragment offset (nonzero: a later fragment, which has no transport header).
    case fragmentOffset
    /// TCP, UDP and SCTP ports: the first two 16-bit words of their headers.
    case sourcePort, destinationPort
    case tcpFlags
    case icmpType, icmpCode

    /// Where the field lives in frames of `family`, nil when it has no fixed place there
    /// (IPv6 keeps a fragment offset in an extension header).
    public func location(in family: AddressFamily) -> FieldLocation? {
        typealias Place = FieldLocation
        let v4 = family == .ipv4
        switch self {
        case .etherType: return Place(.link, Protocols.Ethernet.typeField, width: 2)
        case .vlanID: return Place(.link, Protocols.Ethernet.headerLength, width: 2, mask: Protocols.VLAN.maximumID)
        case .ipProtocol: return Place(.network, v4 ? Protocols.IPv4.protocolField : Protocols.IPv6.nextHeaderField, width: 1)
        case .sourceAddress: return Place(.network, v4 ? Protocols.IPv4.source : Protocols.IPv6.source, width: UInt32(family.width))
        case .destinationAddress:
            return Place(.network, v4 ? Protocols.IPv4.destination : Protocols.IPv6.destination, width: UInt32(family.width))
        case .fragmentOffset:
            return v4 ? Place(.network, Protocols.IPv4.fragmentField, width: 2, mask: Protocols.IPv4.fragmentOffsetMask) : nil
        case .sourcePort: return Place(.transport, Protocols.Port.source, width: 2)
        case .destinationPort: return Place(.transport, Protocols.Port.destination, width: 2)
        case .tcpFlags: return Place(.transport, Protocols.TCP.flagsField, width: 1)
        case .icmpType: return Place(.transport, Protocols.ICMP.typeField, width: 1)
        case .icmpCode: return Place(.transport, Protocols.ICMP.codeField, width: 1)
        }
    }

    /// The address field of one side of the packet.
    public static func address(source: Bool) -> PacketField { source ? .sourceAddress : .destinationAddress }
    /// The port field of one side of the packet.
    public static func port(source: Bool) -> PacketField { source ? .sourcePort : .destinationPort }
}

/// Where a field lives: the header its offset counts from, its size in bytes and, when the
/// field is only some bits of those bytes (read big-endian), their mask.
public struct FieldLocation: Hashable, Sendable {
    public enum Header: String, Hashable, Sendable {
        /// The Ethernet header: the start of the frame.
        case link
        /// The IPv4 or IPv6 header.
        case network
        /// The header after the network header (TCP, UDP, SCTP, ICMP).
        case transport
    }

    public var header: Header
    public var offset: UInt32
    public var width: UInt32
    public var mask: UInt32?

    public init(_ header: Header, _ offset: UInt32, width: UInt32, mask: UInt32? = nil) {
        self.header = header
        self.offset = offset
        self.width = width
        self.mask = mask
    }

    /// The offset from the start of an untagged Ethernet frame of `family`, when it is fixed
    /// (nil for transport fields of IPv4, which follow a header of variable length).
    public func frameOffset(in family: AddressFamily) -> UInt32? {
        let network = Protocols.Ethernet.headerLength
        switch header {
        case .link: return offset
        case .network: return network + offset
        case .transport: return family.fixedTransportOffset.map { network + $0 + offset }
        }
    }
}
