import FilterLanguage
import PacketFormats

/// Link-layer tests on Ethernet: what the frame carries (Ethernet II type, 802.2 LLC service
/// access point, SNAP), Ethernet addresses, and the Linux packet metadata.
extension Generator {
    /// "The frame carries `type`", where `type` is an ethertype or, up to 1500, an LLC SAP.
    mutating func linkType(_ type: UInt32) throws(FilterError) -> Fragment {
        if link.mplsDepth > 0 {
            guard let test = mplsPayloadType(type) else { throw fail("unsupported protocol over mpls") }
            return test
        }
        if link.isPPP {
            return compare(.linkType, 0, .half, Protocols.pppProtocol(forEtherType: type))
        }
        typealias SAP = Protocols.LLCSAP
        switch type {
        case SAP.iso, SAP.ip, SAP.netbeui:
            // 802.3 frame whose LLC header has DSAP = SSAP = the SAP.
            return graph.and(isLLCFrame(), compare(.llc, 0, .half, type << 8 | type))
        case SAP.ipx:
            // IPX: Ethernet II type, SNAP, its own LLC SAP, or "raw" 802.3 (0xffff).
            let sap = compare(.llc, 0, .byte, SAP.ipx)
            let raw = compare(.llc, 0, .half, SAP.rawIPX)
            let llc = graph.or(sap, raw)
            let snap = snapHeader(Protocols.SNAPOrganisation.encapsulatedEthernet, Protocols.EtherType.ipx)
            let framed = graph.and(isLLCFrame(), graph.or(snap, llc))
            return graph.or(compare(.linkType, 0, .half, Protocols.EtherType.ipx), framed)
        case Protocols.EtherType.appleTalk, Protocols.EtherType.appleTalkARP:
            // Phase 2 AppleTalk travels in SNAP frames; phase 1 in Ethernet II frames.
            let organisation = type == Protocols.EtherType.appleTalk
                ? Protocols.SNAPOrganisation.appleTalk : Protocols.SNAPOrganisation.encapsulatedEthernet
            let framed = graph.and(isLLCFrame(), snapHeader(organisation, type))
            return graph.or(compare(.linkType, 0, .half, type), framed)
        default:
            if type <= Protocols.Ethernet.maximumLength {
                // The DSAP, read two bytes after the type/length field.
                return graph.and(isLLCFrame(), compare(.linkType, 2, .byte, type))
            }
            return compare(.linkType, 0, .half, type)
        }
    }

    /// The type field holds a length: an 802.3 frame with an LLC header.
    mutating func isLLCFrame() -> Fragment {
        compare(.linkType, 0, .half, Protocols.Ethernet.maximumLength, .greater, negate: true)
    }

    mutating func snapHeader(_ organisation: UInt32, _ type: UInt32) -> Fragment {
        let bytes = Protocols.LLCSAP.snap + [UInt8(organisation >> 16 & 0xff), UInt8(organisation >> 8 & 0xff),
                                             UInt8(organisation & 0xff), UInt8(type >> 8 & 0xff), UInt8(type & 0xff)]
        return compareBytes(.llc, 0, bytes)
    }

    /// The test a protocol name stands for when written alone (`tcp`, `arp`, `l1`...).
    mutating func protocolAbbreviation(_ proto: ProtocolQualifier) throws(FilterError) -> Fragment {
        typealias E = Protocols.EtherType
        typealias ISO = Protocols.ISO
        switch proto {
        case .tcp, .udp, .sctp, .pim, .ah, .esp:
            return try ipProtocol(Protocols.ipProtocol(of: proto)!, on: nil)
        case .icmp, .igmp, .igrp, .vrrp, .carp:
            return try ipProtocol(Protocols.ipProtocol(of: proto)!, on: .ip)
        case .icmp6:
            return try ipProtocol(Protocols.IPProtocol.icmp6, on: .ip6)
        case .ip: return try linkType(E.ip)
        case .ip6: return try linkType(E.ip6)
        case .arp: return try linkType(E.arp)
        case .rarp: return try linkType(E.reverseARP)
        case .atalk: return try linkType(E.appleTalk)
        case .aarp: return try linkType(E.appleTalkARP)
        case .decnet: return try linkType(E.decnet)
        case .lat: return try linkType(E.lat)
        case .sca: return try linkType(E.sca)
        case .moprc: return try linkType(E.mopRemoteConsole)
        case .mopdl: return try linkType(E.mopDumpLoad)
        case .iso: return try linkType(Protocols.LLCSAP.iso)
        case .stp: return try linkType(Protocols.LLCSAP.spanningTree)
        case .ipx: return try linkType(Protocols.LLCSAP.ipx)
        case .netbeui: return try linkType(Protocols.LLCSAP.netbeui)
        case .clnp: return try isoProtocol(ISO.clnp)
        case .esis: return try isoProtocol(ISO.esis)
        case .isis: return try isoProtocol(ISO.isis)
        case .l1: return try isisTypes(ISO.isisLevel1)
        case .l2: return try isisTypes(ISO.isisLevel2)
        case .iih: return try isisTypes(ISO.isisHello)
        case .lsp: return try isisTypes(ISO.isisLinkState)
        case .snp: return try isisTypes(ISO.isisSequenceNumbers)
        case .csnp: return try isisTypes(ISO.isisCompleteSequenceNumbers)
        case .psnp: return try isisTypes(ISO.isisPartialSequenceNumbers)
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            throw fail("link layer applied in wrong context")
        case .radio:
            throw fail("'radio' is not a valid protocol type")
        }
    }

    /// After MPLS labels: the bottom-of-stack bit of the last label, then the IP version.
    mutating func mplsPayloadType(_ type: UInt32) -> Fragment? {
        let version: UInt32
        switch type {
        case Protocols.EtherType.ip: version = 0x40
        case Protocols.EtherType.ip6: version = 0x60
        default: return nil
        }
        let bottom = compare(.previousMPLSLabel, Protocols.MPLS.bottomOfStackByte, .byte, 1, mask: 1)
        return graph.and(bottom, compare(.network, 0, .byte, version, mask: 0xf0))
    }

    /// An ISO network-layer protocol (CLNP, ES-IS, IS-IS) behind an ISO LLC header.
    mutating func isoProtocol(_ value: UInt32) throws(FilterError) -> Fragment {
        graph.and(try linkType(Protocols.LLCSAP.iso), compare(.networkWithoutSNAP, 0, .byte, value))
    }

    /// One IS-IS PDU type.
    mutating func isisType(_ value: UInt32) throws(FilterError) -> Fragment {
        graph.and(try isoProtocol(Protocols.ISO.isis), compare(.networkWithoutSNAP, Protocols.ISO.isisPDUType, .byte, value))
    }

    mutating func isisTypes(_ values: [UInt32]) throws(FilterError) -> Fragment {
        var tests: [Fragment] = []
        for value in values { tests.append(try isisType(value)) }
        return graph.any(tests)!
    }

    // MARK: Ethernet addresses

    /// Inside Geneve the payload may have no Ethernet header: then the link header and link
    /// payload positions coincide. nil outside Geneve, where there is nothing to check.
    mutating func linkHeaderPresent() -> Fragment? {
        guard link.insideGeneve, let header = link.header.register, let payload = link.payload.register else { return nil }
        return graph.branch([.loadScratch(header), .loadXScratch(payload)], .equal, .x).negated
    }

    /// `ether [src|dst] host MAC`, preceded by the Geneve link-header check when inside Geneve.
    mutating func etherHostTest(_ mac: [UInt8], _ direction: DirectionQualifier?) throws(FilterError) -> Fragment {
        if link.isPPP { throw fail("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel") }
        let check = linkHeaderPresent()
        let test = try etherHost(mac, direction)
        return check.map { graph.and($0, test) } ?? test
    }

    /// `ether [src|dst] host MAC`.
    mutating func etherHost(_ mac: [UInt8], _ direction: DirectionQualifier?) throws(FilterError) -> Fragment {
        try bothWays(direction, invalid: Self.wirelessOnly) { g, isSource in
            g.compareBytes(.linkHeader, isSource ? Protocols.Ethernet.source : Protocols.Ethernet.destination, mac)
        }
    }

    static func wirelessOnly(_ direction: DirectionQualifier) -> String {
        switch direction {
        case .address1, .address2, .address3, .address4:
            return "'\(direction.rawValue)' and 'address\(direction.rawValue.suffix(1))' are only supported on 802.11 with 802.11 headers"
        case .receiver: return "'ra' is only supported on 802.11 with 802.11 headers"
        case .transmitter: return "'ta' is only supported on 802.11 with 802.11 headers"
        default: return "illegal direction"
        }
    }

    mutating func broadcast(_ qualifier: ProtocolQualifier?) throws(FilterError) -> Fragment {
        switch qualifier {
        // libpcap's scanner reads fddi, tr, wlan, ppp and slip as `link`: on Ethernet they test
        // the Ethernet header too.
        case nil, .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            if link.isPPP { throw fail("not a broadcast link") }
            let check = linkHeaderPresent()
            let test = compareBytes(.linkHeader, Protocols.Ethernet.destination, [UInt8](repeating: 0xff, count: 6))
            return check.map { graph.and($0, test) } ?? test
        case .ip:
            guard let netmask else { throw fail("netmask not known, so 'ip broadcast' not supported") }
            let host = ~netmask
            let link = try linkType(Protocols.EtherType.ip)
            let zeros = compare(.network, Protocols.IPv4.destination, .word, 0, mask: host)
            let ones = compare(.network, Protocols.IPv4.destination, .word, host, mask: host)
            return graph.and(link, graph.or(zeros, ones))
        default:
            throw fail("only link-layer/IP broadcast filters supported")
        }
    }

    mutating func multicast(_ qualifier: ProtocolQualifier?) throws(FilterError) -> Fragment {
        switch qualifier {
        case nil, .link, .ether, .fddi, .tr, .wlan, .ppp, .slip:
            if link.isPPP { throw fail("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel") }
            let check = linkHeaderPresent()
            let test = graph.branch(load(.linkHeader, Protocols.Ethernet.destination, .byte), .bitsSet, .constant(1))
            return check.map { graph.and($0, test) } ?? test
        case .ip:
            return graph.and(try linkType(Protocols.EtherType.ip),
                             compare(.network, Protocols.IPv4.destination, .byte, Protocols.IPv4.multicastFirstOctet, .greaterOrEqual))
        case .ip6:
            return graph.and(try linkType(Protocols.EtherType.ip6),
                             compare(.network, Protocols.IPv6.destination, .byte, Protocols.IPv6.multicastFirstOctet))
        default:
            throw fail("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel")
        }
    }

    // MARK: LLC

    mutating func llc(_ kind: String?) throws(FilterError) -> Fragment {
        if link.isPPP { throw fail("'llc' not supported for PPP") }
        // An 802.3 frame that is not raw IPX.
        let frame = graph.and(isLLCFrame(), compare(.llc, 0, .half, Protocols.LLCSAP.rawIPX).negated)
        guard let kind else { return frame }
        let control: Fragment
        if kind == "i" {
            control = graph.branch(load(.llc, 2, .byte), .bitsSet, .constant(1)).negated
        } else if let (mask, value) = Protocols.llcControl[kind] {
            control = compare(.llc, 2, .byte, value, mask: mask)
        } else {
            throw fail("unknown LLC type name \"\(kind)\"")
        }
        return graph.and(frame, control)
    }

    // MARK: Linux metadata

    mutating func packetDirection(outbound: Bool) -> Fragment {
        let test = graph.branch(ancillary(.packetType, .half), .equal, .constant(Protocols.outgoingPacketType))
        return outbound ? test : test.negated
    }

    mutating func interfaceIndex(_ index: UInt32) -> Fragment {
        graph.branch(ancillary(.interfaceIndex, .word), .equal, .constant(index))
    }

    /// A metadata load. libpcap addresses metadata from the link header, so once the link header
    /// has moved (`pppoes`, `geneve`) the same offset lands on another field or in the packet.
    func ancillary(_ field: AncillaryField, _ width: LoadWidth) -> [Statement] {
        if link.header.register == nil && link.header.constant == 0 { return [.loadAncillary(field)] }
        return load(at: link.header, Protocols.ancillaryBase &+ field.rawValue, width)
    }
}
