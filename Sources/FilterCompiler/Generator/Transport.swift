import FilterLanguage
import PacketFormats

/// Network-layer protocol tests (`proto`), transport ports and port ranges.
extension Generator {
    /// "The IP payload is protocol `number`" on IPv4 (`.ip`), IPv6 (`.ip6`) or either (nil).
    /// On IPv6 the protocol may also follow one fragment header.
    mutating func ipProtocol(_ number: UInt32, on version: ProtocolQualifier?) throws(FilterError) -> Fragment {
        switch version {
        case .ip:
            let link = try linkType(Protocols.EtherType.ip)
            return graph.and(link, compare(.network, Protocols.IPv4.protocolField, .byte, number))
        case .ip6:
            let link = try linkType(Protocols.EtherType.ip6)
            let fragment = compare(.network, Protocols.IPv6.nextHeaderField, .byte, Protocols.IPProtocol.fragment)
            let afterFragment = graph.and(fragment, compare(.network, Protocols.IPv6.headerLength, .byte, number))
            let direct = compare(.network, Protocols.IPv6.nextHeaderField, .byte, number)
            return graph.and(link, graph.or(direct, afterFragment))
        default:
            let v4 = try ipProtocol(number, on: .ip)
            return graph.or(v4, try ipProtocol(number, on: .ip6))
        }
    }

    /// `[proto] proto N`: the protocol carried by the layer named by the qualifier.
    mutating func protocolField(_ number: UInt32, _ q: Qualifiers) throws(FilterError) -> Fragment {
        if q.direction != nil { throw fail("direction applied to 'proto'") }
        switch q.proto {
        case nil: return try ipProtocol(number, on: nil)
        case .ip: return try ipProtocol(number, on: .ip)
        case .ip6: return try ipProtocol(number, on: .ip6)
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip: return try linkType(number)
        case .iso: return try isoProtocol(number)
        case .isis: return try isisType(number)
        case .arp: throw fail("arp does not encapsulate another protocol")
        case .rarp: throw fail("rarp does not encapsulate another protocol")
        case .lat: throw fail("LAT does not encapsulate another protocol")
        case .sca: throw fail("SCA does not encapsulate another protocol")
        case .moprc: throw fail("MOPRC does not encapsulate another protocol")
        case .mopdl: throw fail("MOPDL does not encapsulate another protocol")
        case .decnet: throw fail("DECNET encapsulation is not specifiable")
        case .atalk: throw fail("AppleTalk encapsulation is not specifiable")
        case let other?: throw fail("'\(Self.name(other)) proto' is bogus")
        }
    }

    /// The IP protocols a port qualifier selects: one, or nil for TCP, UDP and SCTP alike.
    func portProtocol(_ q: Qualifiers, _ keyword: String) throws(FilterError) -> UInt32? {
        switch q.proto {
        case nil: return nil
        case .tcp: return Protocols.IPProtocol.tcp
        case .udp: return Protocols.IPProtocol.udp
        case .sctp: return Protocols.IPProtocol.sctp
        default: throw fail("illegal qualifier of '\(keyword)'")
        }
    }

    /// `port` or `portrange` on IPv6 then IPv4, the way libpcap lays them out.
    mutating func ports(_ low: UInt32, _ high: UInt32, protocol number: UInt32?, _ direction: DirectionQualifier?,
                        range: Bool) throws(FilterError) -> Fragment {
        for port in [low, high] where port > 65535 {
            throw fail("illegal port number \(port) > 65535")
        }
        let (low, high) = low <= high ? (low, high) : (high, low)
        let protocols = number.map { [$0] }
            ?? [Protocols.IPProtocol.sctp, Protocols.IPProtocol.tcp, Protocols.IPProtocol.udp]

        // IPv6: no fragment test, ports at a fixed offset.
        let link6 = try linkType(Protocols.EtherType.ip6)
        var v6: [Fragment] = []
        for p in protocols {
            let proto = compare(.network, Protocols.IPv6.nextHeaderField, .byte, p)
            v6.append(graph.and(proto, try portFields(.transportIPv6, low, high, direction, range: range)))
        }
        let ipv6 = graph.and(link6, graph.any(v6)!)

        // IPv4: the first fragment only, ports after the variable-length header.
        let link4 = try linkType(Protocols.EtherType.ip)
        var v4: [Fragment] = []
        for p in protocols {
            let proto = compare(.network, Protocols.IPv4.protocolField, .byte, p)
            let first = graph.and(proto, firstFragment())
            v4.append(graph.and(first, try portFields(.transportIPv4, low, high, direction, range: range)))
        }
        let ipv4 = graph.and(link4, graph.any(v4)!)
        return graph.or(ipv6, ipv4)
    }

    /// The fragment offset is zero: the packet starts the datagram and holds the transport header.
    mutating func firstFragment() -> Fragment {
        graph.branch(load(.network, Protocols.IPv4.fragmentField, .half), .bitsSet,
                     .constant(Protocols.IPv4.fragmentOffsetMask)).negated
    }

    private mutating func portFields(_ layer: Layer, _ low: UInt32, _ high: UInt32, _ direction: DirectionQualifier?,
                                     range: Bool) throws(FilterError) -> Fragment {
        func field(_ g: inout Generator, _ offset: UInt32) -> Fragment {
            if !range { return g.compare(layer, offset, .half, low) }
            let atLeast = g.compare(layer, offset, .half, low, .greaterOrEqual)
            return g.graph.and(atLeast, g.compare(layer, offset, .half, high, .greater, negate: true))
        }
        return try bothWays(direction, invalid: Self.notAPortQualifier) { g, isSource in
            field(&g, isSource ? Protocols.Port.source : Protocols.Port.destination)
        }
    }

    static func notAPortQualifier(_ direction: DirectionQualifier) -> String {
        switch direction {
        case .address1, .address2, .address3, .address4:
            let n = direction.rawValue.suffix(1)
            return "'addr\(n)' and 'address\(n)' are not valid qualifiers for ports"
        default: return "'\(direction.rawValue)' is not a valid qualifier for ports"
        }
    }
}
