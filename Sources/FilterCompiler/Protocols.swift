import FilterLanguage

/// The protocol knowledge of the compiler, in one place: link-layer type codes, IP protocol
/// numbers, header field positions and the values of the named constants. The code generator
/// reads these tables; nothing else in the compiler spells a protocol number.
enum Protocols {
    // MARK: Ethernet

    /// Offsets in an Ethernet II / 802.3 frame.
    enum Ethernet {
        static let destination: UInt32 = 0
        static let source: UInt32 = 6
        static let typeField: UInt32 = 12
        static let headerLength: UInt32 = 14
        /// Type fields up to this value are 802.3 lengths, an LLC header follows.
        static let maximumLength: UInt32 = 1500
        /// From the start of the LLC header to the network layer when there is no SNAP header.
        static let llcLength: UInt32 = 3
    }

    /// Ethertypes (and, below 1500, LLC service access points) named in expressions.
    enum EtherType {
        static let ip: UInt32 = 0x0800
        static let arp: UInt32 = 0x0806
        static let reverseARP: UInt32 = 0x8035
        static let ip6: UInt32 = 0x86dd
        static let appleTalk: UInt32 = 0x809b
        static let appleTalkARP: UInt32 = 0x80f3
        static let decnet: UInt32 = 0x6003
        static let lat: UInt32 = 0x6004
        static let sca: UInt32 = 0x6007
        static let mopRemoteConsole: UInt32 = 0x6002
        static let mopDumpLoad: UInt32 = 0x6001
        static let ipx: UInt32 = 0x8137
        static let loopback: UInt32 = 0x9000
        static let vlanTags: [UInt32] = [0x8100, 0x88a8, 0x9100]
        static let mplsUnicast: UInt32 = 0x8847
        static let pppoeDiscovery: UInt32 = 0x8863
        static let pppoeSession: UInt32 = 0x8864
        static let transparentEthernetBridging: UInt32 = 0x6558
    }

    /// LLC service access points that stand for a protocol.
    enum LLCSAP {
        static let ip: UInt32 = 0x06
        static let iso: UInt32 = 0xfe
        static let netbeui: UInt32 = 0xf0
        static let ipx: UInt32 = 0xe0
        static let spanningTree: UInt32 = 0x42
        /// 802.3 "raw" IPX frames start with this instead of an LLC header.
        static let rawIPX: UInt32 = 0xffff
        /// SNAP header bytes DSAP, SSAP, control.
        static let snap: [UInt8] = [0xaa, 0xaa, 0x03]
    }

    /// Organisation codes of SNAP headers.
    enum SNAPOrganisation {
        static let encapsulatedEthernet: UInt32 = 0x000000
        static let appleTalk: UInt32 = 0x080007
    }

    /// `ether proto \NAME` names (libpcap's own table, not /etc/ethers).
    static let etherProtocolNames: [String: UInt32] = [
        "ip": EtherType.ip, "ip6": EtherType.ip6, "arp": EtherType.arp, "rarp": EtherType.reverseARP,
        "atalk": EtherType.appleTalk, "aarp": EtherType.appleTalkARP, "decnet": EtherType.decnet,
        "sca": EtherType.sca, "lat": EtherType.lat, "moprc": EtherType.mopRemoteConsole,
        "mopdl": EtherType.mopDumpLoad, "loopback": EtherType.loopback,
        "iso": LLCSAP.iso, "stp": LLCSAP.spanningTree, "ipx": LLCSAP.ipx, "netbeui": LLCSAP.netbeui,
    ]

    /// PPP protocol field values that replace ethertypes after `pppoes`.
    static func pppProtocol(forEtherType type: UInt32) -> UInt32 {
        switch type {
        case EtherType.ip: return 0x0021
        case EtherType.ip6: return 0x0057
        case EtherType.decnet: return 0x0027
        case EtherType.appleTalk: return 0x0029
        case 0x0600: return 0x0025          // Xerox NS IDP
        case LLCSAP.iso: return 0x0023
        case LLCSAP.spanningTree: return 0x0031
        case LLCSAP.ipx: return 0x002b
        default: return type
        }
    }
    static let pppMPLSUnicast: UInt32 = 0x0281

    // MARK: IPv4, IPv6, ARP

    enum IPv4 {
        static let protocolField: UInt32 = 9
        static let fragmentField: UInt32 = 6
        static let fragmentOffsetMask: UInt32 = 0x1fff
        static let source: UInt32 = 12
        static let destination: UInt32 = 16
        static let multicastFirstOctet: UInt32 = 224
    }

    enum IPv6 {
        static let nextHeaderField: UInt32 = 6
        static let source: UInt32 = 8
        static let destination: UInt32 = 24
        static let headerLength: UInt32 = 40
        static let multicastFirstOctet: UInt32 = 0xff
    }

    /// ARP and RARP on Ethernet with IPv4: sender and target protocol addresses.
    enum ARP {
        static let senderProtocolAddress: UInt32 = 14
        static let targetProtocolAddress: UInt32 = 24
    }

    enum IPProtocol {
        static let hopByHop: UInt32 = 0
        static let icmp: UInt32 = 1
        static let igmp: UInt32 = 2
        static let tcp: UInt32 = 6
        static let igrp: UInt32 = 9
        static let udp: UInt32 = 17
        static let routing: UInt32 = 43
        static let fragment: UInt32 = 44
        static let esp: UInt32 = 50
        static let ah: UInt32 = 51
        static let icmp6: UInt32 = 58
        static let noNextHeader: UInt32 = 59
        static let destinationOptions: UInt32 = 60
        static let pim: UInt32 = 103
        static let vrrp: UInt32 = 112
        static let sctp: UInt32 = 132
    }

    /// The protocol a transport-level qualifier stands for, and the IP versions it runs on.
    static func ipProtocol(of qualifier: ProtocolQualifier) -> UInt32? {
        switch qualifier {
        case .tcp: return IPProtocol.tcp
        case .udp: return IPProtocol.udp
        case .sctp: return IPProtocol.sctp
        case .icmp: return IPProtocol.icmp
        case .icmp6: return IPProtocol.icmp6
        case .igmp: return IPProtocol.igmp
        case .igrp: return IPProtocol.igrp
        case .pim: return IPProtocol.pim
        case .vrrp, .carp: return IPProtocol.vrrp
        case .ah: return IPProtocol.ah
        case .esp: return IPProtocol.esp
        default: return nil
        }
    }

    /// Transport ports: source and destination, at the start of TCP, UDP and SCTP headers.
    enum Port {
        static let source: UInt32 = 0
        static let destination: UInt32 = 2
    }

    // MARK: Encapsulations

    enum VLAN {
        static let tagLength: UInt32 = 4
        static let maximumID: UInt32 = 0x0fff
    }

    enum MPLS {
        static let labelLength: UInt32 = 4
        static let maximumLabel: UInt32 = 0xfffff
        static let labelMask: UInt32 = 0xfffff000
        static let bottomOfStackByte: UInt32 = 2
    }

    enum PPPoE {
        static let sessionHeaderLength: UInt32 = 6
        static let maximumSession: UInt32 = 0xffff
    }

    enum Geneve {
        static let udpPort: UInt32 = 6081
        static let maximumVNI: UInt32 = 0xffffff
        static let udpHeaderLength: UInt32 = 8
        static let fixedHeaderLength: UInt32 = 8
    }

    // MARK: ISO

    enum ISO {
        static let clnp: UInt32 = 0x81
        static let esis: UInt32 = 0x82
        static let isis: UInt32 = 0x83
        /// IS-IS PDU type, from the start of the network layer (after the LLC header).
        static let isisPDUType: UInt32 = 4
        static let isisLevel1: [UInt32] = [0x1a, 0x18, 0x12, 0x0f, 0x11]
        static let isisLevel2: [UInt32] = [0x1b, 0x19, 0x14, 0x10, 0x11]
        static let isisHello: [UInt32] = [0x11, 0x0f, 0x10]
        static let isisLinkState: [UInt32] = [0x12, 0x14]
        static let isisSequenceNumbers: [UInt32] = [0x1b, 0x1a, 0x18, 0x19]
        static let isisCompleteSequenceNumbers: [UInt32] = [0x18, 0x19]
        static let isisPartialSequenceNumbers: [UInt32] = [0x1a, 0x1b]
    }

    // MARK: LLC control field

    /// `llc KIND`: the mask and value of the control byte (nil mask: the I-frame bit test).
    static let llcControl: [String: (mask: UInt32, value: UInt32)] = [
        "s": (0x03, 0x01), "u": (0x03, 0x03),
        "rr": (0x0f, 0x01), "rnr": (0x0f, 0x05), "rej": (0x0f, 0x09),
        "ui": (0xef, 0x03), "ua": (0xef, 0x63), "disc": (0xef, 0x43), "dm": (0xef, 0x0f), "sabme": (0xef, 0x6f),
        "test": (0xef, 0xe3), "xid": (0xef, 0xaf), "frmr": (0xef, 0x87),
    ]

    // MARK: DECnet

    /// DECnet routing header: where the flags byte sits (after the 2-byte length) and the
    /// address positions for short and long headers, with and without one pad byte.
    enum DECnet {
        static let flagsOffset: UInt32 = 2
    }

    // MARK: Linux packet metadata

    static let outgoingPacketType: UInt32 = 4    // PACKET_OUTGOING
    /// Linux's SKF_AD_OFF: metadata lives at this offset plus the field's.
    static let ancillaryBase: UInt32 = 0xffff_f000
}
