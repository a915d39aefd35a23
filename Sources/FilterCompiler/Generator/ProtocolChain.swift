import FilterLanguage
import PacketFormats

/// `protochain N`: walks the IPv6 extension headers (and IPv4 AH headers) in a loop until it
/// finds protocol N or a header it cannot step over.
extension Generator {
    mutating func protocolChain(_ number: UInt32, _ q: Qualifiers) throws(FilterError) -> Fragment {
        if link.payload.register != nil {
            throw fail("'protochain' not supported with variable length headers")
        }
        // A slot to save A in while stepping over a header. Like libpcap, take it before
        // looking at the qualifier, and keep it when compiling both IP versions.
        let saved = try slot()
        switch q.proto {
        case nil:
            let v4 = try protocolChain(number, Qualifiers(proto: .ip))
            return graph.or(v4, try protocolChain(number, Qualifiers(proto: .ip6)))
        case .ip, .ip6:
            defer { registers.free(saved) }
            return try protocolChain(number, ipv6: q.proto == .ip6, saved: saved)
        default:
            throw fail("bad protocol applied for 'protochain'")
        }
    }

    private mutating func protocolChain(_ number: UInt32, ipv6: Bool, saved: Int) throws(FilterError) -> Fragment {
        typealias P = Protocols.IPProtocol
        let link = try linkType(ipv6 ? Protocols.EtherType.ip6 : Protocols.EtherType.ip)
        let payload = self.link.payload.constant &+ self.link.network

        // A = the first protocol field, X = where its payload starts (relative to `payload`).
        var prelude = load(.network, ipv6 ? Protocols.IPv6.nextHeaderField : Protocols.IPv4.protocolField, .byte)
        prelude.append(ipv6 ? .loadXConstant(Protocols.IPv6.headerLength) : .loadXHeaderLength(offset: payload))
        let start = graph.jumpBlock(prelude)

        // The loop: found, or no next header, ends it.
        let found = graph.branch([], .equal, .constant(number))
        graph.setJump(start, to: found.entry)
        let none = graph.branch([], .equal, .constant(P.noNextHeader))
        graph.connect(found.whenFalse, to: none.entry)

        // Final verdict: A holds the last protocol seen.
        let result = graph.branch([.arithmetic(.add, .constant(0))], .equal, .constant(number))
        graph.connect(found.whenTrue + none.whenTrue, to: result.entry)

        var next = none.whenFalse
        if ipv6 {
            // Hop-by-hop, destination options, routing and fragment headers: length in 8-byte units.
            var extensionHeaders: [BranchArm] = []
            for header in [P.hopByHop, P.destinationOptions, P.routing, P.fragment] {
                let test = graph.branch([], .equal, .constant(header))
                graph.connect(next, to: test.entry)
                extensionHeaders += test.whenTrue
                next = test.whenFalse
            }
            let step = graph.jumpBlock([
                .loadPacketIndexed(.byte, offset: payload), .storeA(saved),
                .loadPacketIndexed(.byte, offset: payload + 1), .arithmetic(.add, .constant(1)),
                .arithmetic(.multiply, .constant(8)), .arithmetic(.add, .x), .moveAToX(), .loadScratch(saved),
            ])
            graph.connect(extensionHeaders, to: step)
            graph.setJump(step, to: found.entry)
        }
        // AH: length in 4-byte units, minus 2.
        let ah = graph.branch(ipv6 ? [] : [.arithmetic(.add, .constant(0))], .equal, .constant(P.ah))
        graph.connect(next, to: ah.entry)
        let step = graph.jumpBlock([
            .moveXToA, .loadPacketIndexed(.byte, offset: payload), .storeA(saved),
            .moveXToA, .arithmetic(.add, .constant(1)), .moveAToX(),
            .loadPacketIndexed(.byte, offset: payload), .arithmetic(.add, .constant(2)),
            .arithmetic(.multiply, .constant(4)), .moveAToX(), .loadScratch(saved),
        ])
        graph.connect(ah.whenTrue, to: step)
        graph.setJump(step, to: found.entry)
        graph.connect(ah.whenFalse, to: result.entry)

        let chain = Fragment(entry: start, whenTrue: result.whenTrue, whenFalse: result.whenFalse)
        return graph.and(link, chain)
    }
}
