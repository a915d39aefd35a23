import FilterLanguage
import PacketFormats

/// Host and network tests: IPv4 (with ARP and RARP), IPv6, DECnet, and `gateway`.
extension Generator {
    /// `[proto] [dir] host|net` for an IPv4 address under `mask`.
    mutating func ipv4Host(_ address: UInt32, mask: UInt32, _ q: Qualifiers) throws(FilterError) -> Fragment {
        let what = q.type == .net ? "net" : "host"
        switch q.proto {
        case nil:
            let ip = try ipv4Host(address, mask: mask, Qualifiers(proto: .ip, direction: q.direction, type: q.type))
            // Inside MPLS only IPv4 can carry the address.
            if link.mplsDepth > 0 { return ip }
            let arp = try ipv4Host(address, mask: mask, Qualifiers(proto: .arp, direction: q.direction, type: q.type))
            let either = graph.or(ip, arp)
            let rarp = try ipv4Host(address, mask: mask, Qualifiers(proto: .rarp, direction: q.direction, type: q.type))
            return graph.or(either, rarp)
        case .ip:
            return try hostFields(address, mask, q.direction, Protocols.EtherType.ip, Protocols.IPv4.source, Protocols.IPv4.destination)
        case .arp:
            return try hostFields(address, mask, q.direction, Protocols.EtherType.arp,
                                  Protocols.ARP.senderProtocolAddress, Protocols.ARP.targetProtocolAddress)
        case .rarp:
            return try hostFields(address, mask, q.direction, Protocols.EtherType.reverseARP,
                                  Protocols.ARP.senderProtocolAddress, Protocols.ARP.targetProtocolAddress)
        case .decnet:
            return try decnetHost(address, q.direction)
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            throw fail("link-layer modifier applied to \(what)")
        case .ip6:
            throw fail("'ip6' modifier applied to ip host")
        case .atalk: throw fail("AppleTalk host filtering not implemented")
        case .lat: throw fail("LAT host filtering not implemented")
        case .sca: throw fail("SCA host filtering not implemented")
        case .moprc: throw fail("MOPRC host filtering not implemented")
        case .mopdl: throw fail("MOPDL host filtering not implemented")
        case .aarp: throw fail("AARP host filtering not implemented")
        case .iso: throw fail("ISO host filtering not implemented")
        case let other?:
            throw fail("'\(Self.name(other))' modifier applied to \(what)")
        }
    }

    /// The address field at `source` or `destination` of a protocol, per direction.
    private mutating func hostFields(_ address: UInt32, _ mask: UInt32, _ direction: DirectionQualifier?,
                                     _ type: UInt32, _ source: UInt32, _ destination: UInt32) throws(FilterError) -> Fragment {
        try bothWays(direction, invalid: Self.notAnAddressQualifier) { g, isSource throws(FilterError) in
            let link = try g.linkType(type)
            return g.graph.and(link, g.compare(.network, isSource ? source : destination, .word, address, mask: mask))
        }
    }

    /// `[ip6] [dir] host|net` for an IPv6 address under a 128-bit mask.
    mutating func ipv6Host(_ address: [UInt8], mask: [UInt8], _ q: Qualifiers) throws(FilterError) -> Fragment {
        let what = q.type == .net ? "net" : "host"
        switch q.proto {
        case nil, .ip6:
            break
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            throw fail("link-layer modifier applied to ip6 \(what)")
        case .atalk:
            throw fail("AppleTalk modifier applied to ip6 \(what)")
        case let other?:
            throw fail("'\(Self.name(other))' modifier applied to ip6 \(what)")
        }
        func word(_ bytes: [UInt8], _ i: Int) -> UInt32 { bytes[i * 4 ..< i * 4 + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        return try bothWays(q.direction, invalid: Self.notAnAddressQualifier) { g, isSource throws(FilterError) in
            let offset = isSource ? Protocols.IPv6.source : Protocols.IPv6.destination
            var tests = [try g.linkType(Protocols.EtherType.ip6)]
            for i in 0 ..< 4 {
                tests.append(g.compare(.network, offset + UInt32(i * 4), .word, word(address, i), mask: word(mask, i)))
            }
            return g.graph.all(tests)!
        }
    }

    /// DECnet node address (area.node) in the routing header, for short and long headers,
    /// with and without a pad byte.
    mutating func decnetHost(_ address: UInt32, _ direction: DirectionQualifier?) throws(FilterError) -> Fragment {
        try bothWays(direction, invalid: Self.notAnAddressQualifier) { g, isSource throws(FilterError) in
            try g.decnetHost(address, isSource ? (short: 3, long: 15) : (short: 1, long: 7))
        }
    }

    /// The DECnet test for one address field, at its offset in short and in long headers.
    private mutating func decnetHost(_ address: UInt32, _ offsets: (short: UInt32, long: UInt32)) throws(FilterError) -> Fragment {
        let (shortOffset, longOffset) = offsets
        // Addresses are little-endian on the wire.
        let node = (address & 0xff) << 8 | (address >> 8 & 0xff)
        let flags = Protocols.DECnet.flagsOffset
        let link = try linkType(Protocols.EtherType.decnet)
        // Short header (flags & 7 == 2), then padded short (0x81 pad byte), long (6), padded long.
        let shortPlain = graph.and(compare(.network, flags, .byte, 0x02, mask: 0x07),
                                   compare(.network, flags + shortOffset, .half, node))
        let shortPadded = graph.and(compare(.network, flags, .half, 0x8102, mask: 0xff07),
                                    compare(.network, flags + 1 + shortOffset, .half, node))
        let longPlain = graph.and(compare(.network, flags, .byte, 0x06, mask: 0x07),
                                  compare(.network, flags + longOffset, .half, node))
        let longPadded = graph.and(compare(.network, flags, .half, 0x8106, mask: 0xff07),
                                   compare(.network, flags + 1 + longOffset, .half, node))
        return graph.and(link, graph.any([shortPlain, shortPadded, longPlain, longPadded])!)
    }

    /// libpcap's message for an 802.11 address qualifier on a network-layer address.
    static func notAnAddressQualifier(_ direction: DirectionQualifier) -> String {
        switch direction {
        case .address1, .address2, .address3, .address4:
            let n = direction.rawValue.suffix(1)
            return "'addr\(n)' and 'address\(n)' are not valid qualifiers for addresses other than 802.11 MAC addresses"
        default:
            return "'\(direction.rawValue)' is not a valid qualifier for addresses other than 802.11 MAC addresses"
        }
    }
}
