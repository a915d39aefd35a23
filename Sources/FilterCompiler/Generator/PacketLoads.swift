import FilterLanguage
import PacketFormats

/// Where packet fields are: the layers an offset can be relative to, and the loads and
/// comparisons built on them.

/// An offset from the start of the packet, possibly plus a length computed at run time and
/// kept in a scratch slot (after `geneve`, whose header length varies).
struct PacketPosition {
    var constant: UInt32
    var register: Int?

    static func fixed(_ value: UInt32) -> PacketPosition { PacketPosition(constant: value, register: nil) }
}

/// What a field offset is relative to.
enum Layer {
    /// The very start of the packet.
    case packet
    /// The start of the (innermost) link-layer header.
    case linkHeader
    /// The type field of the link layer (ethertype, or PPP protocol after `pppoes`).
    case linkType
    /// The link-layer payload, where an 802.2 LLC header would start.
    case llc
    /// The network-layer header (after any MPLS labels).
    case network
    /// The network-layer header behind an LLC header without SNAP (ISO protocols).
    case networkWithoutSNAP
    /// The last MPLS label before the current network layer.
    case previousMPLSLabel
    /// The transport header of IPv4 (the IP header length is read from the packet).
    case transportIPv4
    /// The transport header right after a fixed IPv6 header.
    case transportIPv6
}

/// The offsets of the link-level layers, which encapsulations move as they are parsed.
struct LinkLayout {
    /// Ethernet, or PPP once `pppoes` has been seen.
    var isPPP = false
    var header = PacketPosition.fixed(0)
    var type = PacketPosition.fixed(Protocols.Ethernet.typeField)
    var payload = PacketPosition.fixed(Protocols.Ethernet.headerLength)
    /// From the payload to the network layer (MPLS labels add to it).
    var network: UInt32 = 0
    var networkWithoutSNAP: UInt32 = Protocols.Ethernet.llcLength
    var mplsDepth = 0
    var vlanDepth = 0
    var insideGeneve = false
}

extension Generator {
    /// `A = field` for a field of `width` at `offset` within `layer`.
    func load(_ layer: Layer, _ offset: UInt32, _ width: LoadWidth) -> [Statement] {
        let link = self.link
        switch layer {
        case .packet:
            return [.loadPacket(width, offset: offset)]
        case .linkHeader:
            return load(at: link.header, offset, width)
        case .linkType:
            return load(at: link.type, offset, width)
        case .llc:
            return load(at: link.payload, offset, width)
        case .network:
            return load(at: link.payload, link.network &+ offset, width)
        case .networkWithoutSNAP:
            return load(at: link.payload, link.networkWithoutSNAP &+ offset, width)
        case .previousMPLSLabel:
            return load(at: link.payload, link.network &- Protocols.MPLS.labelLength &+ offset, width)
        case .transportIPv4:
            return ipv4HeaderLengthToX() + [.loadPacketIndexed(width, offset: link.payload.constant &+ link.network &+ offset)]
        case .transportIPv6:
            return load(at: link.payload, link.network &+ Protocols.IPv6.headerLength &+ offset, width)
        }
    }

    func load(at position: PacketPosition, _ offset: UInt32, _ width: LoadWidth) -> [Statement] {
        if let register = position.register {
            return [.loadXScratch(register), .loadPacketIndexed(width, offset: position.constant &+ offset)]
        }
        return [.loadPacket(width, offset: position.constant &+ offset)]
    }

    /// `X = ` the offset of the IPv4 payload (IPv4 header length, plus the variable part of
    /// the link-layer payload offset when there is one).
    func ipv4HeaderLengthToX() -> [Statement] {
        let network = link.payload.constant &+ link.network
        if let register = link.payload.register {
            return [.loadXScratch(register), .loadPacketIndexed(.byte, offset: network),
                    .arithmetic(.and, .constant(0x0f)), .arithmetic(.shiftLeft, .constant(2)),
                    .arithmetic(.add, .x), .moveAToX()]
        }
        return [.loadXHeaderLength(offset: network)]
    }

    /// A test of `field & mask <condition> value`, negated when `negate`.
    mutating func compare(_ layer: Layer, _ offset: UInt32, _ width: LoadWidth, _ value: UInt32,
                          mask: UInt32 = 0xffff_ffff, _ condition: Condition = .equal, negate: Bool = false) -> Fragment {
        var statements = load(layer, offset, width)
        if mask != 0xffff_ffff { statements.append(.arithmetic(.and, .constant(mask))) }
        let test = graph.branch(statements, condition, .constant(value))
        return negate ? test.negated : test
    }

    /// `field == value` byte by byte for a run of bytes (Ethernet addresses, SNAP headers):
    /// words from the end, then a half-word, then a byte.
    mutating func compareBytes(_ layer: Layer, _ offset: UInt32, _ bytes: [UInt8]) -> Fragment {
        var tests: [Fragment] = []
        var size = bytes.count
        func value(_ range: Range<Int>) -> UInt32 { bytes[range].reduce(0) { $0 << 8 | UInt32($1) } }
        while size >= 4 {
            tests.append(compare(layer, offset + UInt32(size - 4), .word, value(size - 4 ..< size)))
            size -= 4
        }
        while size >= 2 {
            tests.append(compare(layer, offset + UInt32(size - 2), .half, value(size - 2 ..< size)))
            size -= 2
        }
        if size > 0 {
            tests.append(compare(layer, offset, .byte, value(0 ..< 1)))
        }
        return graph.all(tests)!
    }

    /// Applies a test of one address or port field to the source, the destination, or both,
    /// as the direction qualifier says; `invalid` words the error for the 802.11 directions.
    mutating func bothWays(_ direction: DirectionQualifier?, invalid: (DirectionQualifier) -> String,
                           _ field: (inout Generator, _ source: Bool) throws(FilterError) -> Fragment) throws(FilterError) -> Fragment {
        switch direction {
        case .source: return try field(&self, true)
        case .destination: return try field(&self, false)
        case .sourceAndDestination:
            let s = try field(&self, true)
            return graph.and(s, try field(&self, false))
        case nil, .sourceOrDestination:
            let s = try field(&self, true)
            return graph.or(s, try field(&self, false))
        case let other?:
            throw fail(invalid(other))
        }
    }

    /// A test that always holds (or never does): `ld #k; jeq #0`.
    mutating func constantTest(_ holds: Bool) -> Fragment {
        graph.branch([.loadConstant(holds ? 0 : 1)], .equal, .constant(0))
    }
}
