import PacketFormats

/// Builds frames byte by byte for the differential tests: every header is spelled out here
/// from the protocol's wire format, so a test can make the packets a filter should (or should
/// not) match. Checksums are left zero: filters never read them.
public enum PacketBuilder {
    public static let hostA: [UInt8] = [0xab, 0xcd, 0xef, 0x00, 0x00, 0x01]
    public static let hostB: [UInt8] = [0xab, 0xcd, 0xef, 0x00, 0x00, 0x02]

    // MARK: Link layer

    public static func ethernet(destination: [UInt8] = hostA, source: [UInt8] = hostB, type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        destination + source + be16(type) + payload
    }

    /// 802.1Q/802.1ad tags, outermost first, in front of `type`.
    public static func tagged(_ tags: [(tpid: UInt16, tci: UInt16)], type: UInt16, _ payload: [UInt8],
                              destination: [UInt8] = hostA, source: [UInt8] = hostB) -> [UInt8] {
        var bytes = destination + source
        for tag in tags { bytes += be16(tag.tpid) + be16(tag.tci) }
        return bytes + be16(type) + payload
    }

    /// An 802.3 frame: a length instead of a type, then an 802.2 LLC header.
    public static func llc(dsap: UInt8, ssap: UInt8, control: UInt8 = 0x03, _ payload: [UInt8],
                           destination: [UInt8] = hostA, source: [UInt8] = hostB) -> [UInt8] {
        let body = [dsap, ssap, control] + payload
        return destination + source + be16(UInt16(min(body.count, Int(Protocols.Ethernet.maximumLength)))) + body
    }

    /// 802.2 SNAP: LLC AA AA 03, an OUI and a type.
    public static func snap(oui: [UInt8] = [0, 0, 0], type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let snap = Protocols.LLCSAP.snap
        return llc(dsap: snap[0], ssap: snap[1], control: snap[2], oui + be16(type) + payload)
    }

    /// MPLS label stack entries (label, TTL 64), the last with bottom-of-stack set.
    public static func mpls(labels: [UInt32], _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, label) in labels.enumerated() {
            bytes += be32(label << 12 | (index == labels.count - 1 ? 0x100 : 0) | 64)
        }
        return bytes + payload
    }

    public static func pppoeDiscovery(code: UInt8, session: UInt16, tags: [UInt8] = [0x01, 0x01, 0x00, 0x00]) -> [UInt8] {
        [0x11, code] + be16(session) + be16(UInt16(tags.count)) + tags
    }

    /// A PPPoE session header and the PPP protocol number (0x0021 IPv4, 0x0057 IPv6, 0x0281 MPLS).
    public static func pppoeSession(session: UInt16, pppProtocol: UInt16, _ payload: [UInt8]) -> [UInt8] {
        [0x11, 0x00] + be16(session) + be16(UInt16(payload.count + 2)) + be16(pppProtocol) + payload
    }

    // MARK: Network layer

    public static func ipv4(source: [UInt8] = [1, 2, 3, 4], destination: [UInt8] = [5, 6, 7, 8], protocol number: UInt8,
                            options: [UInt8] = [], fragmentOffset: UInt16 = 0, moreFragments: Bool = false,
                            _ payload: [UInt8]) -> [UInt8] {
        var options = options
        while options.count % 4 != 0 { options.append(0) }
        let headerLength = Int(Protocols.IPv4.minimumHeaderLength) + options.count
        let flags: UInt16 = (moreFragments ? 0x2000 : 0) | (fragmentOffset & UInt16(Protocols.IPv4.fragmentOffsetMask))
        return [UInt8(Protocols.IPv4.version << 4) | UInt8(headerLength / Int(Protocols.IPv4.headerLengthUnit)), 0] + be16(UInt16(truncatingIfNeeded: headerLength + payload.count))
            + be16(0x1234) + be16(flags) + [64, number] + be16(0) + source + destination + options + payload
    }

    public static let ipv6A: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
    public static let ipv6B: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [2]

    /// An IPv6 header followed by extension headers, each given as (its type, its bytes after
    /// the next-header byte); `nextHeader` is the protocol after the last one.
    public static func ipv6(source: [UInt8] = ipv6A, destination: [UInt8] = ipv6B, nextHeader: UInt8,
                            extensions: [(type: UInt8, body: [UInt8])] = [], _ payload: [UInt8]) -> [UInt8] {
        var chain: [UInt8] = []
        for (index, header) in extensions.enumerated() {
            let next = index + 1 < extensions.count ? extensions[index + 1].type : nextHeader
            chain += [next] + header.body
        }
        let first = extensions.first?.type ?? nextHeader
        return be32(0x6000_0000) + be16(UInt16(truncatingIfNeeded: chain.count + payload.count)) + [first, 64]
            + source + destination + chain + payload
    }

    /// Body of a hop-by-hop, routing or destination-options header of `units` 8-byte units.
    public static func extensionBody(units: Int = 1, fill: UInt8 = 0) -> [UInt8] {
        [UInt8(units - 1)] + Array(repeating: fill, count: units * 8 - 2)
    }

    /// Body of an IPv6 fragment header.
    public static func fragmentBody(offset: UInt16, more: Bool) -> [UInt8] {
        [0] + be16(offset << 3 | (more ? 1 : 0)) + be32(0xdead_beef)
    }

    /// Body of an authentication header with a 12-byte ICV (24 bytes in all).
    public static let authenticationBody: [UInt8] = [4, 0, 0] + be32(0x100) + be32(1) + Array(repeating: 0xaa, count: 12)

    public static func arp(operation: UInt16, senderIP: [UInt8] = [1, 2, 3, 4], targetIP: [UInt8] = [5, 6, 7, 8]) -> [UInt8] {
        be16(1) + be16(UInt16(Protocols.EtherType.ip)) + [6, 4] + be16(operation) + hostB + senderIP + hostA + targetIP
    }

    // MARK: Transport layer

    public static func tcp(source: UInt16, destination: UInt16, flags: UInt8 = 0x02, _ payload: [UInt8] = []) -> [UInt8] {
        be16(source) + be16(destination) + be32(1) + be32(0) + [0x50, flags] + be16(8192) + be16(0) + be16(0) + payload
    }

    public static func udp(source: UInt16, destination: UInt16, _ payload: [UInt8] = [0xde, 0xad]) -> [UInt8] {
        be16(source) + be16(destination) + be16(UInt16(truncatingIfNeeded: 8 + payload.count)) + be16(0) + payload
    }

    public static func sctp(source: UInt16, destination: UInt16) -> [UInt8] {
        be16(source) + be16(destination) + be32(0x1234_5678) + be32(0) + [1, 0] + be16(20) + Array(repeating: 0, count: 16)
    }

    /// ICMP and ICMPv6 share this shape: type, code, checksum, four bytes.
    public static func icmp(type: UInt8, code: UInt8 = 0) -> [UInt8] {
        [type, code, 0, 0] + be32(0x0001_0002) + Array(repeating: 0x61, count: 8)
    }

    public static func igmp(type: UInt8, group: [UInt8] = [224, 0, 0, 1]) -> [UInt8] {
        [type, 0, 0, 0] + group
    }

    public static func pim(type: UInt8) -> [UInt8] {
        [0x20 | type, 0, 0, 0] + be32(0x0001_0000)
    }

    /// VRRP (and CARP, which shares IP protocol 112).
    public static func vrrp(virtualRouter: UInt8 = 1) -> [UInt8] {
        [0x21, virtualRouter, 100, 1, 0, 1, 0, 0] + [10, 0, 0, 1] + Array(repeating: 0, count: 8)
    }

    /// Geneve (UDP port 6081) carrying an Ethernet frame.
    public static func geneve(vni: UInt32, optionWords: UInt8 = 0, _ inner: [UInt8]) -> [UInt8] {
        [optionWords & 0x3f, 0] + be16(0x6558) + be32(vni << 8) + Array(repeating: 0, count: Int(optionWords) * 4) + inner
    }

    /// VXLAN (UDP port 4789) carrying an Ethernet frame.
    public static func vxlan(vni: UInt32, _ inner: [UInt8]) -> [UInt8] {
        [0x08, 0, 0, 0] + be32(vni << 8) + inner
    }

    // MARK: Other network layers

    /// An IS-IS PDU header (NLPID 0x83) of the given PDU type, after LLC FE FE 03.
    public static func isis(pduType: UInt8) -> [UInt8] {
        [0x83, 27, 1, 0, pduType, 1, 0, 0] + Array(repeating: 0x11, count: 24)
    }

    /// A DECnet Phase IV routing header: long or short data message, optionally padded,
    /// from and to area.node addresses (as `area * 1024 + node`).
    public static func decnet(source: UInt16, destination: UInt16, long: Bool, padding: Int = 0) -> [UInt8] {
        var header: [UInt8] = []
        if padding > 0 { header += [0x80 | UInt8(padding)] + Array(repeating: 0, count: padding - 1) }
        if long {
            header += [0x06, 0, 0] + [0xaa, 0x00, 0x04, 0x00] + le16(destination) + [0, 0]
                + [0xaa, 0x00, 0x04, 0x00] + le16(source) + [0, 0, 0]
        } else {
            header += [0x02] + le16(destination) + le16(source) + [0]
        }
        let body = header + Array(repeating: 0x55, count: 8)
        return le16(UInt16(body.count)) + body
    }

    /// An IPX header (checksum 0xFFFF).
    public static func ipx(packetType: UInt8 = 4) -> [UInt8] {
        be16(0xffff) + be16(30) + [0, packetType] + Array(repeating: 0x11, count: 24)
    }

    /// An AppleTalk DDP long header.
    public static func ddp() -> [UInt8] {
        be16(13) + be16(0) + be16(1) + be16(2) + [3, 4, 5, 6, 1]
    }

    /// A configuration BPDU after LLC 42 42 03.
    public static func stpBPDU() -> [UInt8] {
        [0, 0, 0, 0, 0] + Array(repeating: 0x80, count: 30)
    }

    // MARK: Bytes

    public static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    public static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    public static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}
