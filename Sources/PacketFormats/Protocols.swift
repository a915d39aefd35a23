/// The protocol knowledge of xdpfw, in one place: link-layer type codes, IP protocol numbers,
/// header field positions and the values of the named constants. The compiler's code generator,
/// the eBPF lookups, the rule merger, the command line and the test packet builders read these
/// tables; nothing else in the product spells a protocol number or a header offset.
public enum Protocols {
    // MARK: Ethernet

    /// Offsets in an Ethernet II / 802.3 frame.
    public enum Ethernet {
        public static let destination: UInt32 = 0
        public static let source: UInt32 = 6
        public static let typeField: UInt32 = 12
        public static let headerLength: UInt32 = 14
        /// Type fields up to this value are 802.3 lengths, an LLC header follows.
        public static let maximumLength: UInt32 = 1500
        /// From the start of the LLC header to the network layer when there is no SNAP header.
        public static let llcLength: UInt32 = 3
        /// The smallest type field that is an ethertype (Linux's ETH_P_802_3_MIN).
        public static let minimumEtherType: UInt32 = 0x0600
        /// The protocol Linux gives 802.3 frames in `skb->protocol`: Novell raw 802.3 (ETH_P_802_3)
        /// when the payload starts 0xffff, else 802.2 LLC (ETH_P_802_2).
        public static let linuxRaw8023: UInt32 = 0x0001
        public static let linuxLLC8022: UInt32 = 0x0004
    }

    /// Ethertypes (and, below 1500, LLC service access points) named in expressions.
    public enum EtherType {
        public static let ip: UInt32 = 0x0800
        public static let arp: UInt32 = 0x0806
        public static let reverseARP: UInt32 = 0x8035
        public static let ip6: UInt32 = 0x86dd
        public static let appleTalk: UInt32 = 0x809b
        public static let appleTalkARP: UInt32 = 0x80f3
        public static let decnet: UInt32 = 0x6003
        public static let lat: UInt32 = 0x6004
        public static let sca: UInt32 = 0x6007
        public static let mopRemoteConsole: UInt32 = 0x6002
        public static let mopDumpLoad: UInt32 = 0x6001
        public static let ipx: UInt32 = 0x8137
        public static let loopback: UInt32 = 0x9000
        public static let vlanTags: [UInt32] = [0x8100, 0x88a8, 0x9100]
        public static let mplsUnicast: UInt32 = 0x8847
        public static let pppoeDiscovery: UInt32 = 0x8863
        public static let pppoeSession: UInt32 = 0x8864
        public static let transparentEthernetBridging: UInt32 = 0x6558
    }

    /// LLC service access points that stand for a protocol.
    public enum LLCSAP {
        public static let ip: UInt32 = 0x06
        public static let iso: UInt32 = 0xfe
        public static let netbeui: UInt32 = 0xf0
        public static let ipx: UInt32 = 0xe0
        public static let spanningTree: UInt32 = 0x42
        /// 802.3 "raw" IPX frames start with this instead of an LLC header.
        public static let rawIPX: UInt32 = 0xffff
        /// SNAP header bytes DSAP, SSAP, control.
        public static let snap: [UInt8] = [0xaa, 0xaa, 0x03]
    }

    /// Organisation codes of SNAP headers.
    public enum SNAPOrganisation {
        public static let encapsulatedEthernet: UInt32 = 0x000000
        public static let appleTalk: UInt32 = 0x080007
    }

    /// `ether proto \NAME` names (libpcap's own table, not /etc/ethers).
    public static let etherProtocolNames: [String: UInt32] = [
        "ip": EtherType.ip, "ip6": EtherType.ip6, "arp": EtherType.arp, "rarp": EtherType.reverseARP,
        "atalk": EtherType.appleTalk, "aarp": EtherType.appleTalkARP, "decnet": EtherType.decnet,
        "sca": EtherType.sca, "lat": EtherType.lat, "moprc": EtherType.mopRemoteConsole,
        "mopdl": EtherType.mopDumpLoad, "loopback": EtherType.loopback,
        "iso": LLCSAP.iso, "stp": LLCSAP.spanningTree, "ipx": LLCSAP.ipx, "netbeui": LLCSAP.netbeui,
    ]

    /// PPP protocol field values that replace ethertypes after `pppoes`.
    public static func pppProtocol(forEtherType type: UInt32) -> UInt32 {
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
    public static let pppMPLSUnicast: UInt32 = 0x0281

    // MARK: IPv4, IPv6, ARP

    public enum IPv4 {
        /// Version and header length (IHL, the low four bits, in 32-bit words).
        public static let headerLengthField: UInt32 = 0
        public static let headerLengthMask: UInt32 = 0x0f
        public static let headerLengthUnit: UInt32 = 4
        /// The header without options (IHL 5).
        public static let minimumHeaderLength: UInt32 = 20
        public static let version: UInt32 = 4
        public static let checksumField: UInt32 = 10
        public static let protocolField: UInt32 = 9
        public static let fragmentField: UInt32 = 6
        public static let fragmentOffsetMask: UInt32 = 0x1fff
        public static let source: UInt32 = 12
        public static let destination: UInt32 = 16
        public static let multicastFirstOctet: UInt32 = 224
    }

    public enum IPv6 {
        public static let nextHeaderField: UInt32 = 6
        public static let source: UInt32 = 8
        public static let destination: UInt32 = 24
        public static let headerLength: UInt32 = 40
        public static let multicastFirstOctet: UInt32 = 0xff
    }

    /// ARP and RARP on Ethernet with IPv4: sender and target protocol addresses.
    public enum ARP {
        public static let senderProtocolAddress: UInt32 = 14
        public static let targetProtocolAddress: UInt32 = 24
    }

    public enum IPProtocol {
        public static let hopByHop: UInt32 = 0
        public static let icmp: UInt32 = 1
        public static let igmp: UInt32 = 2
        public static let tcp: UInt32 = 6
        public static let igrp: UInt32 = 9
        public static let udp: UInt32 = 17
        public static let routing: UInt32 = 43
        public static let fragment: UInt32 = 44
        public static let esp: UInt32 = 50
        public static let ah: UInt32 = 51
        public static let icmp6: UInt32 = 58
        public static let noNextHeader: UInt32 = 59
        public static let destinationOptions: UInt32 = 60
        public static let pim: UInt32 = 103
        public static let vrrp: UInt32 = 112
        public static let sctp: UInt32 = 132
    }

    /// Transport ports: source and destination, at the start of TCP, UDP and SCTP headers.
    public enum Port {
        public static let source: UInt32 = 0
        public static let destination: UInt32 = 2
    }

    /// From the start of the TCP header.
    public enum TCP {
        public static let flagsField: UInt32 = 13
        public static let checksumField: UInt32 = 16
    }

    /// From the start of the ICMP and ICMPv6 headers.
    public enum ICMP {
        public static let typeField: UInt32 = 0
        public static let codeField: UInt32 = 1
        public static let checksumField: UInt32 = 2
    }

    // MARK: Encapsulations

    public enum VLAN {
        public static let tagLength: UInt32 = 4
        public static let maximumID: UInt32 = 0x0fff
    }

    public enum MPLS {
        public static let labelLength: UInt32 = 4
        public static let maximumLabel: UInt32 = 0xfffff
        public static let labelMask: UInt32 = 0xfffff000
        public static let bottomOfStackByte: UInt32 = 2
    }

    public enum PPPoE {
        public static let sessionHeaderLength: UInt32 = 6
        public static let maximumSession: UInt32 = 0xffff
    }

    public enum Geneve {
        public static let udpPort: UInt32 = 6081
        public static let maximumVNI: UInt32 = 0xffffff
        public static let udpHeaderLength: UInt32 = 8
        public static let fixedHeaderLength: UInt32 = 8
    }

    // MARK: ISO

    public enum ISO {
        public static let clnp: UInt32 = 0x81
        public static let esis: UInt32 = 0x82
        public static let isis: UInt32 = 0x83
        /// IS-IS PDU type, from the start of the network layer (after the LLC header).
        public static let isisPDUType: UInt32 = 4
        public static let isisLevel1: [UInt32] = [0x1a, 0x18, 0x12, 0x0f, 0x11]
        public static let isisLevel2: [UInt32] = [0x1b, 0x19, 0x14, 0x10, 0x11]
        public static let isisHello: [UInt32] = [0x11, 0x0f, 0x10]
        public static let isisLinkState: [UInt32] = [0x12, 0x14]
        public static let isisSequenceNumbers: [UInt32] = [0x1b, 0x1a, 0x18, 0x19]
        public static let isisCompleteSequenceNumbers: [UInt32] = [0x18, 0x19]
        public static let isisPartialSequenceNumbers: [UInt32] = [0x1a, 0x1b]
    }

    // MARK: LLC control field

    /// `llc KIND`: the mask and value of the control byte (nil mask: the I-frame bit test).
    public static let llcControl: [String: (mask: UInt32, value: UInt32)] = [
        "s": (0x03, 0x01), "u": (0x03, 0x03),
        "rr": (0x0f, 0x01), "rnr": (0x0f, 0x05), "rej": (0x0f, 0x09),
        "ui": (0xef, 0x03), "ua": (0xef, 0x63), "disc": (0xef, 0x43), "dm": (0xef, 0x0f), "sabme": (0xef, 0x6f),
        "test": (0xef, 0xe3), "xid": (0xef, 0xaf), "frmr": (0xef, 0x87),
    ]

    // MARK: DECnet

    /// DECnet routing header: where the flags byte sits (after the 2-byte length) and the
    /// address positions for short and long headers, with and without one pad byte.
    public enum DECnet {
        public static let flagsOffset: UInt32 = 2
    }

    // MARK: Linux packet metadata

    public static let outgoingPacketType: UInt32 = 4    // PACKET_OUTGOING
    /// Linux's SKF_AD_OFF: metadata lives at this offset plus the field's.
    public static let ancillaryBase: UInt32 = 0xffff_f000
}
