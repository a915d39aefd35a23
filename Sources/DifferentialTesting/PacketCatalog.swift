import Kernel

/// A packet to run filters on: its bytes, its length on the wire and a name for reports.
public struct PacketSample: Hashable, Sendable {
    public var label: String
    public var bytes: [UInt8]
    public var wireLength: UInt32

    public init(label: String, bytes: [UInt8], wireLength: UInt32? = nil) {
        self.label = label
        self.bytes = bytes
        self.wireLength = wireLength ?? UInt32(bytes.count)
    }
}

/// Built frames of every protocol the filter language knows, with the addresses, ports and
/// numbers the corpus expressions mention, plus their truncations.
public enum PacketCatalog {
    typealias B = PacketBuilder

    /// Whole frames, wire length = their size.
    public static let frames: [PacketSample] = {
        var samples: [PacketSample] = []
        func add(_ label: String, _ bytes: [UInt8]) { samples.append(PacketSample(label: label, bytes: bytes)) }

        for (name, number, payload) in ipv4Payloads {
            for (variant, packet) in ipv4Variants(number, payload) {
                add("ipv4 \(variant) \(name)", B.ethernet(type: 0x0800, packet))
            }
        }
        for (name, number, payload) in ipv6Payloads {
            for (variant, extensions) in ipv6ExtensionChains {
                add("ipv6 \(variant) \(name)", B.ethernet(type: 0x86dd, B.ipv6(nextHeader: number, extensions: extensions, payload)))
            }
        }
        let tcp = B.ipv4(protocol: 6, B.tcp(source: 5672, destination: 25))
        let udp6 = B.ipv6(nextHeader: 17, B.udp(source: 53, destination: 67))
        for (name, tags) in vlanStacks {
            add("\(name) ipv4 tcp", B.tagged(tags, type: 0x0800, tcp))
            add("\(name) ipv6 udp", B.tagged(tags, type: 0x86dd, udp6))
            add("\(name) mpls 100 ipv4", B.tagged(tags, type: 0x8847, B.mpls(labels: [100], tcp)))
            add("\(name) arp", B.tagged(tags, type: 0x0806, B.arp(operation: 1)))
        }
        for labels in [[100], [123, 100], [100, 123, 7], [1_048_575]] as [[UInt32]] {
            add("mpls \(labels) ipv4 tcp", B.ethernet(type: 0x8847, B.mpls(labels: labels, tcp)))
            add("mpls \(labels) ipv6 udp", B.ethernet(type: 0x8848, B.mpls(labels: labels, udp6)))
        }
        for session: UInt16 in [1, 0x1234] {
            add("pppoes \(session) ipv4", B.ethernet(type: 0x8864, B.pppoeSession(session: session, pppProtocol: 0x0021, tcp)))
            add("pppoes \(session) ipv6", B.ethernet(type: 0x8864, B.pppoeSession(session: session, pppProtocol: 0x0057, udp6)))
            add("pppoes \(session) mpls 123", B.ethernet(type: 0x8864, B.pppoeSession(session: session, pppProtocol: 0x0281, B.mpls(labels: [123], tcp))))
            add("pppoed \(session)", B.ethernet(type: 0x8863, B.pppoeDiscovery(code: 0x09, session: session)))
        }
        let inner = B.ethernet(type: 0x0800, B.ipv4(source: [10, 0, 0, 1], destination: [1, 2, 3, 4], protocol: 6, B.tcp(source: 7, destination: 53)))
        for vni: UInt32 in [12345, 1] {
            for options: UInt8 in [0, 2] {
                add("geneve \(vni) opt \(options)", B.ethernet(type: 0x0800, B.ipv4(protocol: 17, B.udp(source: 4000, destination: 6081, B.geneve(vni: vni, optionWords: options, inner)))))
            }
            add("geneve6 \(vni)", B.ethernet(type: 0x86dd, B.ipv6(nextHeader: 17, B.udp(source: 4000, destination: 6081, B.geneve(vni: vni, inner)))))
            add("vxlan \(vni)", B.ethernet(type: 0x0800, B.ipv4(protocol: 17, B.udp(source: 4000, destination: 4789, B.vxlan(vni: vni, inner)))))
        }
        samples += nonIPFrames
        samples += byteProbeFrames
        return samples
    }()

    /// Every prefix of every frame (lengths 0 up to the whole frame minus one). With
    /// `keepWireLength` the wire length stays the frame's (caplen < wirelen, as a capture with a
    /// small snaplen sees it); otherwise it is the prefix's (as XDP sees a short frame).
    public static func truncations(keepWireLength: Bool, of samples: [PacketSample] = frames) -> [PacketSample] {
        samples.flatMap { sample in
            (0..<sample.bytes.count).map { length in
                PacketSample(label: "\(sample.label) [:\(length)]", bytes: Array(sample.bytes.prefix(length)),
                             wireLength: keepWireLength ? sample.wireLength : UInt32(length))
            }
        }
    }

    /// The corpus capture packets, with their recorded wire length or with wire length =
    /// captured length (the XDP/TC view).
    public static func corpus(wireLengthIsCaptured: Bool) -> [PacketSample] {
        Corpus.captures.packets.map { packet in
            PacketSample(label: packet.label, bytes: packet.packet.bytes,
                         wireLength: wireLengthIsCaptured ? UInt32(packet.packet.bytes.count) : packet.packet.wireLength)
        }
    }

    /// The samples with the same bytes and wire length as an earlier one left out.
    public static func unique(_ samples: [PacketSample]) -> [PacketSample] {
        struct Key: Hashable { var bytes: [UInt8]; var wireLength: UInt32 }
        var seen = Set<Key>()
        return samples.filter { seen.insert(Key(bytes: $0.bytes, wireLength: $0.wireLength)).inserted }
    }

    /// The packets differential tests run every program on: the built frames, every
    /// truncation of them (wire length = what is left), truncations of every tenth frame with
    /// the whole frame's wire length, and the corpus captures both with their recorded wire
    /// length and with wire length = captured length; duplicates left out.
    public static let differentialSet: [PacketSample] = unique(
        frames
            + truncations(keepWireLength: false)
            + truncations(keepWireLength: true, of: frames.enumerated().filter { $0.offset % 10 == 0 }.map(\.element))
            + corpus(wireLengthIsCaptured: false)
            + corpus(wireLengthIsCaptured: true))

    /// A smaller set for slow paths: the frames and the corpus captures as recorded.
    public static let quickSet: [PacketSample] = unique(frames + corpus(wireLengthIsCaptured: false))

    // MARK: Pieces

    static let ipv4Payloads: [(String, UInt8, [UInt8])] = transportPayloads(icmpNumber: 1, icmpTypes: [8, 0, 3]) + [
        ("igmp", 2, B.igmp(type: 0x11)), ("pim", 103, B.pim(type: 0)), ("vrrp", 112, B.vrrp()),
        ("igrp", 9, Array(repeating: 0x01, count: 12)), ("eigrp", 88, Array(repeating: 0x02, count: 20)),
        ("gre", 47, [0, 0, 0x08, 0] + B.ipv4(protocol: 17, B.udp(source: 53, destination: 53))),
        ("ipip", 4, B.ipv4(source: [9, 9, 9, 9], destination: [1, 2, 3, 4], protocol: 6, B.tcp(source: 25, destination: 7))),
        ("ip6-in-ip", 41, B.ipv6(nextHeader: 6, B.tcp(source: 80, destination: 7))),
        ("ah tcp", 51, [6] + B.authenticationBody + B.tcp(source: 7, destination: 25)),
        ("esp", 50, B.be32(0x100) + B.be32(1) + Array(repeating: 0xee, count: 16)),
    ]

    static let ipv6Payloads: [(String, UInt8, [UInt8])] = transportPayloads(icmpNumber: 58, icmpTypes: [128, 129, 135, 1]) + [
        ("pim", 103, B.pim(type: 0)), ("vrrp", 112, B.vrrp()),
        ("ipip6", 41, B.ipv6(nextHeader: 17, B.udp(source: 68, destination: 67))),
        ("no next header", 59, []),
    ]

    static func transportPayloads(icmpNumber: UInt8, icmpTypes: [UInt8]) -> [(String, UInt8, [UInt8])] {
        var payloads: [(String, UInt8, [UInt8])] = []
        let portPairs: [(UInt16, UInt16)] = [(7, 25), (25, 7), (53, 53), (67, 68), (68, 67), (1023, 1024), (5672, 80), (1, 65535)]
        for (source, destination) in portPairs {
            payloads.append(("tcp \(source)>\(destination)", 6, B.tcp(source: source, destination: destination)))
            payloads.append(("udp \(source)>\(destination)", 17, B.udp(source: source, destination: destination)))
        }
        for flags: UInt8 in [0x12, 0x10, 0x11, 0x04, 0x29] {
            payloads.append(("tcp flags \(flags)", 6, B.tcp(source: 80, destination: 40000, flags: flags, [1, 2, 3])))
        }
        payloads.append(("sctp 5672>7", 132, B.sctp(source: 5672, destination: 7)))
        payloads.append(("sctp 7>5672", 132, B.sctp(source: 7, destination: 5672)))
        for type in icmpTypes { payloads.append(("icmp \(type)", icmpNumber, B.icmp(type: type))) }
        return payloads
    }

    static func ipv4Variants(_ number: UInt8, _ payload: [UInt8]) -> [(String, [UInt8])] {
        [
            ("1.2.3.4>5.6.7.8", B.ipv4(protocol: number, payload)),
            ("10.0.0.1>1.2.3.4", B.ipv4(source: [10, 0, 0, 1], destination: [1, 2, 3, 4], protocol: number, payload)),
            ("options", B.ipv4(destination: [255, 255, 255, 255], protocol: number, options: [0x94, 0x04, 0, 0], payload)),
            ("long options", B.ipv4(destination: [224, 0, 0, 1], protocol: number, options: Array(repeating: 1, count: 40), payload)),
            ("first fragment", B.ipv4(protocol: number, moreFragments: true, payload)),
            ("later fragment", B.ipv4(protocol: number, fragmentOffset: 100, payload)),
        ]
    }

    static let ipv6ExtensionChains: [(String, [(type: UInt8, body: [UInt8])])] = [
        ("plain", []),
        ("hop-by-hop", [(0, B.extensionBody())]),
        ("dstopts+routing", [(60, B.extensionBody(units: 2)), (43, B.extensionBody(fill: 0))]),
        ("first fragment", [(44, B.fragmentBody(offset: 0, more: true))]),
        ("later fragment", [(44, B.fragmentBody(offset: 20, more: false))]),
        ("ah", [(51, B.authenticationBody)]),
        ("hbh+routing+fragment+dstopts", [(0, B.extensionBody()), (43, B.extensionBody(units: 3)), (44, B.fragmentBody(offset: 0, more: false)), (60, B.extensionBody())]),
    ]

    static let vlanStacks: [(String, [(tpid: UInt16, tci: UInt16)])] = [
        ("vlan 5", [(0x8100, 5)]), ("vlan 4095 prio", [(0x8100, 0xefff)]), ("vlan 100", [(0x8100, 100)]),
        ("qinq 88a8 10/20", [(0x88a8, 10), (0x8100, 20)]), ("qinq 9100 300/5", [(0x9100, 300), (0x8100, 5)]),
        ("vlan x3", [(0x8100, 1), (0x8100, 2), (0x8100, 3)]),
    ]

    static let nonIPFrames: [PacketSample] = {
        var samples: [PacketSample] = []
        func add(_ label: String, _ bytes: [UInt8]) { samples.append(PacketSample(label: label, bytes: bytes)) }
        for operation: UInt16 in [1, 2] {
            add("arp \(operation) 1.2.3.4>5.6.7.8", B.ethernet(type: 0x0806, B.arp(operation: operation)))
            add("arp \(operation) 5.6.7.8>1.2.3.4", B.ethernet(type: 0x0806, B.arp(operation: operation, senderIP: [5, 6, 7, 8], targetIP: [1, 2, 3, 4])))
        }
        for operation: UInt16 in [3, 4] {
            add("rarp \(operation)", B.ethernet(type: 0x8035, B.arp(operation: operation)))
            add("rarp \(operation) to 1.2.3.4", B.ethernet(type: 0x8035, B.arp(operation: operation, senderIP: [9, 9, 9, 9], targetIP: [1, 2, 3, 4])))
        }
        add("stp", B.llc(dsap: 0x42, ssap: 0x42, B.stpBPDU()))
        add("netbeui", B.llc(dsap: 0xf0, ssap: 0xf0, Array(repeating: 0x33, count: 20)))
        add("ipx ethertype", B.ethernet(type: 0x8137, B.ipx()))
        add("ipx 802.3 raw", B.hostA + B.hostB + B.be16(30) + B.ipx())
        add("ipx llc", B.llc(dsap: 0xe0, ssap: 0xe0, B.ipx()))
        add("ipx snap", B.snap(type: 0x8137, B.ipx()))
        add("clnp", B.llc(dsap: 0xfe, ssap: 0xfe, [0x81, 20, 1] + Array(repeating: 0, count: 20)))
        add("esis", B.llc(dsap: 0xfe, ssap: 0xfe, [0x82, 20, 1] + Array(repeating: 0, count: 20)))
        for pduType: UInt8 in [0x0f, 0x10, 0x11, 0x12, 0x14, 0x18, 0x19, 0x1a, 0x1b, 0x13] {
            add("isis \(pduType)", B.llc(dsap: 0xfe, ssap: 0xfe, B.isis(pduType: pduType)))
        }
        let node: UInt16 = 50 * 1024 + 764
        for long in [false, true] {
            for padding in [0, 1, 3] {
                add("decnet \(long ? "long" : "short") pad \(padding) from 50.764", B.ethernet(type: 0x6003, B.decnet(source: node, destination: 1025, long: long, padding: padding)))
                add("decnet \(long ? "long" : "short") pad \(padding) to 50.764", B.ethernet(type: 0x6003, B.decnet(source: 2049, destination: node, long: long, padding: padding)))
            }
        }
        add("appletalk ddp", B.ethernet(type: 0x809b, B.ddp()))
        add("aarp", B.ethernet(type: 0x80f3, B.arp(operation: 1)))
        add("appletalk snap", B.snap(oui: [0x08, 0x00, 0x07], type: 0x809b, B.ddp()))
        add("aarp snap", B.snap(type: 0x80f3, B.arp(operation: 1)))
        add("snap ipv4", B.snap(type: 0x0800, B.ipv4(protocol: 6, B.tcp(source: 7, destination: 7))))
        for type: UInt16 in [0x6001, 0x6002, 0x6004, 0x6007, 0x9000, 0x88cc, 0x0000, 0x00ff, 0x05dd, 0x0006, 0xffff] {
            add("ethertype \(type)", B.ethernet(type: type, Array(repeating: 0x06, count: 30)))
        }
        add("llc sap 6", B.llc(dsap: 0x06, ssap: 0x06, Array(repeating: 0, count: 20)))
        add("broadcast arp", B.ethernet(destination: Array(repeating: 0xff, count: 6), type: 0x0806, B.arp(operation: 1)))
        add("multicast ipv4", B.ethernet(destination: [0x01, 0x00, 0x5e, 0, 0, 1], type: 0x0800, B.ipv4(destination: [224, 0, 0, 1], protocol: 2, B.igmp(type: 0x16))))
        add("multicast ipv6", B.ethernet(destination: [0x33, 0x33, 0, 0, 0, 1], type: 0x86dd, B.ipv6(destination: [0xff, 2] + Array(repeating: 0, count: 13) + [1], nextHeader: 58, B.icmp(type: 135))))
        add("host c", B.ethernet(destination: [0xab, 0xcd, 0xef, 0, 0, 3], source: B.hostA, type: 0x0800, B.ipv4(protocol: 17, B.udp(source: 68, destination: 67))))
        add("empty", [])
        add("runt", [0xab, 0xcd, 0xef])
        return samples
    }()

    /// Frames for byte-comparison filters (`ether[5] == 0x12`, `ip[0xab] == 0xcd`, ...).
    static let byteProbeFrames: [PacketSample] = {
        let fill = Array(repeating: UInt8(0xcd), count: 240)
        return [
            PacketSample(label: "probe ether[5]=0x12", bytes: B.ethernet(destination: [0, 0, 0, 0, 0, 0x12], type: 0x0800, B.ipv4(protocol: 6, B.tcp(source: 1, destination: 2)))),
            PacketSample(label: "probe ether[7:2]=0x1234", bytes: B.ethernet(source: [0, 0x12, 0x34, 0, 0, 0], type: 0x0800, B.ipv4(protocol: 6, B.tcp(source: 1, destination: 2)))),
            PacketSample(label: "probe ether[10:4]=0x12345678", bytes: B.ethernet(source: [0, 0, 0, 0, 0x12, 0x34], type: 0x5678, fill)),
            PacketSample(label: "probe ip 0xcd", bytes: B.ethernet(type: 0x0800, B.ipv4(protocol: 6, B.tcp(source: 1, destination: 2, fill)))),
            PacketSample(label: "probe ip6 0xcd", bytes: B.ethernet(type: 0x86dd, B.ipv6(nextHeader: 58, B.icmp(type: 128) + fill))),
            PacketSample(label: "probe udp 0xcd", bytes: B.ethernet(type: 0x0800, B.ipv4(protocol: 17, B.udp(source: 1, destination: 2, fill)))),
            PacketSample(label: "probe sctp 0xcd", bytes: B.ethernet(type: 0x0800, B.ipv4(protocol: 132, B.sctp(source: 1, destination: 2) + fill))),
            PacketSample(label: "probe vrrp 0xcd", bytes: B.ethernet(type: 0x0800, B.ipv4(protocol: 112, B.vrrp() + fill))),
            PacketSample(label: "probe arp 0xcd", bytes: B.ethernet(type: 0x0806, B.arp(operation: 1) + fill)),
        ]
    }()
}
