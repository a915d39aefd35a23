import DifferentialTesting
import Kernel
import XCTest

/// The built frames are what their names say, by libpcap's own reading of them.
final class PacketBuilderTests: XCTestCase {
    /// Frames whose label starts with the prefix, and an expression libpcap must accept them with.
    static let expectations: [(prefix: String, expression: String)] = [
        ("ipv4 1.2.3.4>5.6.7.8 tcp 7>25", "ip host 1.2.3.4 and tcp src port 7 and dst port 25"),
        ("ipv4 10.0.0.1>1.2.3.4 udp 67>68", "src host 10.0.0.1 and dst 1.2.3.4 and udp port 67"),
        ("ipv4 options", "ip[0] & 0xf > 5"),
        ("ipv4 later fragment", "ip[6:2] & 0x1fff != 0"),
        ("ipv4 1.2.3.4>5.6.7.8 sctp 5672>7", "sctp src port 5672"),
        ("ipv4 1.2.3.4>5.6.7.8 icmp 8", "icmp[icmptype] == icmp-echo"),
        ("ipv4 1.2.3.4>5.6.7.8 igmp", "igmp"),
        ("ipv4 1.2.3.4>5.6.7.8 pim", "pim"),
        ("ipv4 1.2.3.4>5.6.7.8 vrrp", "vrrp"),
        ("ipv4 1.2.3.4>5.6.7.8 ah tcp", "ip protochain 6"),
        ("ipv6 plain tcp 53>53", "ip6 and tcp port 53"),
        ("ipv6 plain icmp 128", "icmp6[icmp6type] == icmp6-echo"),
        ("ipv6 hop-by-hop udp", "ip6 protochain 17"),
        ("ipv6 dstopts+routing tcp", "ip6 protochain 6"),
        ("ipv6 first fragment sctp", "ip6 protochain 132"),
        ("ipv6 ah tcp", "ip6 protochain 6"),
        ("ipv6 hbh+routing+fragment+dstopts udp", "ip6 protochain 17"),
        ("vlan 5 ", "vlan 5"),
        ("vlan 5 ipv4 tcp", "vlan 5 and tcp port 5672"),
        ("vlan 4095 prio", "vlan 4095"),
        ("qinq 88a8 10/20 ipv6 udp", "vlan 10 and vlan 20 and ip6 and udp port 53"),
        ("vlan x3 arp", "vlan 1 and vlan 2 and vlan 3 and arp"),
        ("vlan 100 mpls 100 ipv4", "vlan 100 and mpls 100 and ip"),
        ("mpls [123, 100] ipv4", "mpls 123 and mpls 100 and tcp dst port 25"),
        ("pppoes 4660 ipv4", "pppoes 0x1234 and ip and tcp"),
        ("pppoes 1 ipv6", "pppoes 1 and ip6"),
        ("pppoes 1 mpls 123", "pppoes and mpls 123"),
        ("pppoed", "pppoed"),
        ("geneve 12345 opt 0", "geneve 12345 and ip host 1.2.3.4 and tcp port 53"),
        ("geneve 12345 opt 2", "geneve 12345 and tcp src port 7"),
        ("geneve6 12345", "geneve 12345 and ip"),
        ("vxlan 12345", "udp dst port 4789"),
        ("arp 1 1.2.3.4>5.6.7.8", "arp src 1.2.3.4 and arp dst 5.6.7.8"),
        ("rarp 3 to 1.2.3.4", "rarp dst host 1.2.3.4"),
        ("stp", "stp"),
        ("netbeui", "netbeui"),
        ("ipx", "ipx"),
        ("clnp", "clnp"),
        ("esis", "esis"),
        ("isis 15", "isis proto 0x0f"),
        ("isis 18", "lsp"),
        ("isis 24", "csnp"),
        ("isis 27", "psnp"),
        ("decnet short pad 0 from", "decnet src 50.764"),
        ("decnet short pad 1 to", "decnet dst 50.764"),
        ("decnet long pad 1 from", "decnet src 50.764"),
        ("decnet long pad 0 to", "decnet dst host 50.764"),
        ("appletalk", "atalk"),
        ("aarp", "aarp"),
        ("snap ipv4", "ether[14:2] == 0xaaaa"),
        ("ethertype 24577", "mopdl"),
        ("ethertype 24578", "moprc"),
        ("ethertype 24580", "lat"),
        ("ethertype 24583", "sca"),
        ("broadcast arp", "ether broadcast and arp"),
        ("multicast ipv4", "ip multicast and ether multicast"),
        ("multicast ipv6", "ip6 multicast"),
        ("host c", "ether dst abcdef000003"),
        ("probe ether[5]=0x12", "ether[5] == 0x12"),
        ("probe ether[7:2]=0x1234", "ether[7:2] == 0x1234"),
        ("probe ether[10:4]=0x12345678", "ether[10:4] == 0x12345678"),
        ("probe ip 0xcd", "ip[0xab] == 0xcd"),
        ("probe ip6 0xcd", "ip6[0xab] == 0xcd"),
        ("probe sctp 0xcd", "sctp[0xab] == 0xcd"),
    ]

    /// libpcap reads DECnet addresses with no padding or one pad byte only: longer padding
    /// makes negative examples.
    func testFramesAreWhatTheirNamesSay() throws {
        for (prefix, expression) in Self.expectations {
            let frames = PacketCatalog.frames.filter { $0.label.hasPrefix(prefix) }
            XCTAssertFalse(frames.isEmpty, "no frame named '\(prefix)…'")
            let program = try Libpcap.compile(expression, optimize: true).get()
            for frame in frames where Libpcap.filter(program, packet: frame.bytes, wireLength: frame.wireLength) == 0 {
                XCTFail("libpcap's '\(expression)' rejects '\(frame.label)'\n" + VerdictComparison.hexDump(frame.bytes))
            }
        }
    }
}
