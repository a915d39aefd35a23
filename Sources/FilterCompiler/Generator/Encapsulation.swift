import FilterLanguage
import PacketFormats

/// `vlan`, `mpls`, `pppoes` and `geneve`: each tests for its header and then moves the link
/// layout, so that every primitive written after it looks inside the encapsulation.
extension Generator {
    mutating func vlan(_ id: UInt32?) throws(FilterError) -> Fragment {
        if link.mplsDepth > 0 { throw fail("no VLAN match after MPLS") }
        if link.isPPP { throw fail("no VLAN support for PPP") }
        var tags: [Fragment] = []
        for tag in Protocols.EtherType.vlanTags { tags.append(try linkType(tag)) }
        var test = graph.any(tags)!
        if let id {
            if id > Protocols.VLAN.maximumID {
                throw fail("VLAN tag \(id) greater than maximum \(Protocols.VLAN.maximumID)")
            }
            test = graph.and(test, compare(.network, 0, .half, id, mask: Protocols.VLAN.maximumID))
        }
        link.payload.constant += Protocols.VLAN.tagLength
        link.type.constant += Protocols.VLAN.tagLength
        link.vlanDepth += 1
        return test
    }

    mutating func mpls(_ label: UInt32?) throws(FilterError) -> Fragment {
        var test: Fragment
        if link.mplsDepth > 0 {
            // Another label follows: the previous one is not the bottom of the stack.
            test = compare(.previousMPLSLabel, Protocols.MPLS.bottomOfStackByte, .byte, 0, mask: 1)
        } else if link.isPPP {
            test = compare(.linkType, 0, .half, Protocols.pppMPLSUnicast)
        } else {
            test = try linkType(Protocols.EtherType.mplsUnicast)
        }
        if let label {
            if label > Protocols.MPLS.maximumLabel {
                throw fail("MPLS label \(label) greater than maximum \(Protocols.MPLS.maximumLabel)")
            }
            test = graph.and(test, compare(.network, 0, .word, label << 12, mask: Protocols.MPLS.labelMask))
        }
        link.network += Protocols.MPLS.labelLength
        link.networkWithoutSNAP += Protocols.MPLS.labelLength
        link.mplsDepth += 1
        return test
    }

    mutating func pppoeSession(_ session: UInt32?) throws(FilterError) -> Fragment {
        var test = try linkType(Protocols.EtherType.pppoeSession)
        if let session {
            if session > Protocols.PPPoE.maximumSession {
                throw fail("PPPoE session number \(session) greater than maximum \(Protocols.PPPoE.maximumSession)")
            }
            test = graph.and(test, compare(.network, 0, .word, session, mask: Protocols.PPPoE.maximumSession))
        }
        // From here on the frame is PPP: the protocol field follows the session header.
        let header = PacketPosition(constant: link.payload.constant + link.network + Protocols.PPPoE.sessionHeaderLength,
                                    register: link.payload.register)
        link.isPPP = true
        link.header = header
        link.type = header
        link.payload = PacketPosition(constant: header.constant + 2, register: header.register)
        link.network = 0
        link.networkWithoutSNAP = 0
        return test
    }

    /// `geneve [VNI]` over UDP on IPv4 or IPv6; afterwards the inner frame's positions are
    /// computed at run time (the Geneve header has options) and kept in scratch slots.
    mutating func geneve(_ vni: UInt32?) throws(FilterError) -> Fragment {
        if let vni, vni > Protocols.Geneve.maximumVNI {
            throw fail("Geneve VNI \(vni) greater than maximum \(Protocols.Geneve.maximumVNI)")
        }
        // IPv4: X = the UDP header's offset, then A = X so that `jeq x` always holds.
        let v4 = try geneveHeader(vni, ipv6: false)
        let findUDP4 = graph.branch(ipv4HeaderLengthToX() + [.moveXToA], .equal, .x)
        let ipv4 = graph.and(v4, findUDP4)

        let v6 = try geneveHeader(vni, ipv6: true)
        var statements: [Statement] = []
        if let register = link.payload.register {
            statements = [.loadXScratch(register), .loadConstant(Protocols.IPv6.headerLength), .arithmetic(.add, .x), .moveAToX()]
        } else {
            statements = [.loadConstant(Protocols.IPv6.headerLength), .moveAToX()]
        }
        let findUDP6 = graph.branch(statements, .equal, .x)
        let ipv6 = graph.and(v6, findUDP6)
        let found = graph.or(ipv4, ipv6)
        return graph.and(found, try geneveOffsets())
    }

    /// UDP to the Geneve port, version 0, and the VNI when given.
    private mutating func geneveHeader(_ vni: UInt32?, ipv6: Bool) throws(FilterError) -> Fragment {
        let udp = Protocols.IPProtocol.udp
        let layer: Layer = ipv6 ? .transportIPv6 : .transportIPv4
        var test: Fragment
        if ipv6 {
            let link = try linkType(Protocols.EtherType.ip6)
            let proto = compare(.network, Protocols.IPv6.nextHeaderField, .byte, udp)
            let port = compare(layer, Protocols.Port.destination, .half, Protocols.Geneve.udpPort)
            test = graph.and(link, graph.and(proto, port))
        } else {
            let link = try linkType(Protocols.EtherType.ip)
            let proto = graph.and(compare(.network, Protocols.IPv4.protocolField, .byte, udp), firstFragment())
            let port = compare(layer, Protocols.Port.destination, .half, Protocols.Geneve.udpPort)
            test = graph.and(link, graph.and(proto, port))
        }
        let header = Protocols.Geneve.udpHeaderLength
        test = graph.and(test, compare(layer, header, .byte, 0, mask: 0xc0))
        if let vni {
            test = graph.and(test, compare(layer, header + 4, .word, vni << 8, mask: 0xffff_ff00))
        }
        return test
    }

    /// With X = the UDP header's offset from the link payload: the inner link type, link
    /// header and payload positions go to three new slots, and a test that always holds.
    private mutating func geneveOffsets() throws(FilterError) -> Fragment {
        let typeSlot = try slot()
        let headerSlot = try slot()
        let start = link.payload.constant + link.network + Protocols.Geneve.udpHeaderLength
        let compute = [
            .arithmetic(.add, .constant(start)), .moveAToX(),
            .arithmetic(.add, .constant(2)), .storeA(typeSlot),
            .loadPacketIndexed(.byte, offset: 0), .arithmetic(.and, .constant(0x3f)),
            .arithmetic(.multiply, .constant(4)), .arithmetic(.add, .constant(Protocols.Geneve.fixedHeaderLength)),
            .arithmetic(.add, .x), .storeA(headerSlot),
            .loadPacketIndexed(.half, offset: 2), .loadXScratch(headerSlot),
        ] as [Statement]
        let bridged = graph.branch(compute, .equal, .constant(Protocols.EtherType.transparentEthernetBridging))
        // An Ethernet frame inside: its type field and payload.
        let ethernet = graph.jumpBlock([
            .moveXToA, .arithmetic(.add, .constant(Protocols.Ethernet.typeField)), .storeA(typeSlot),
            .arithmetic(.add, .constant(2)), .moveAToX(),
        ])
        graph.connect(bridged.whenTrue, to: ethernet)
        let payloadSlot = try slot()
        let done = graph.branch([.storeX(payloadSlot), .loadConstant(0)], .equal, .constant(0))
        graph.connect(bridged.whenFalse, to: done.entry)
        graph.setJump(ethernet, to: done.entry)

        link.type = PacketPosition(constant: 0, register: typeSlot)
        link.header = PacketPosition(constant: 0, register: headerSlot)
        link.payload = PacketPosition(constant: 0, register: payloadSlot)
        link.network = 0
        link.insideGeneve = true
        // Whatever the outer link was, Geneve carries an Ethernet type field.
        link.isPPP = false
        return Fragment(entry: bridged.entry, whenTrue: done.whenTrue, whenFalse: done.whenFalse)
    }
}
