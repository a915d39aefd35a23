import XCTest
@testable import FilterLanguage

/// Tricky expressions, judged by the installed libpcap at test time: where libpcap reports a
/// syntax error we must reject; where it accepts we must accept; where it reports another error
/// (one a later stage raises) we must accept or give the same message (we may explain more after it).
/// Operands are addresses, numbers and service names so that no lookup goes to the network.
final class OracleTests: XCTestCase {
    static let tricky: [String] = [
        // Qualifiers carried to bare operands, across not and parentheses.
        "host 1.1.1.1 or 2.2.2.2", "not host 1.1.1.1 and 2.2.2.2", "tcp port 80 or 443",
        "host 1.1.1.1 and not 2.2.2.2", "host 1.1.1.1 and (2.2.2.2 or 3.3.3.3)",
        "host 1.1.1.1 and ((2.2.2.2))", "host 1.1.1.1 and (2.2.2.2)", "host 1.1.1.1 and ((1))",
        "host 1.1.1.1 and (2.2.2.2 and tcp)", "(host 1.1.1.1) and 2.2.2.2", "host not 1.1.1.1",
        "host (1.1.1.1 or 2.2.2.2)", "host 1.1.1.1 and (not 2.2.2.2)", "host 1.1.1.1 and (1 or 2.2.2.2)",
        "host 1.1.1.1 and ((1) or 2.2.2.2)", "host 1.1.1.1 and (not (2.2.2.2))", "tcp and 1.1.1.1",
        "len = 1 and 2", "port 1 and (tcp) and 2", "port 1 and not tcp and 2", "port 1 and (tcp or udp) and 2",
        "port 1 and (1) = len", "port 1 and (1) + 1 = len", "port 1 and (1)", "port 1 and (1 = len)",
        "port 1 and (not 2)", "port 1 and not 2", "port 1 and not (2)", "port 1 and not (2 or 3)",
        "port 1 and not (2 or tcp)", "port 1 and ((2) or 3)", "port 1 and ((2 or 3))", "port 1 or (2 and not 3)",
        "not 10.0.0.1", "10.0.0.1", "80", "port 80 and 81 or 82", "port 1 and not not 2", "port 1 and ! 2",
        "not not tcp", "not (tcp)", "((tcp))", "! tcp", "!tcp", "tcp && udp || icmp", "tcp and or udp",
        "host 1.1.1.1 and $1", "tcp and (1 or 2)", "tcp and \\tcp", "tcp and 10.0.0.0/8", "tcp and ::1",
        "tcp and 10.0.0.0 mask 255.0.0.0", "tcp and ::/64", "tcp and 0:1:2:3:4:5", "vlan and 1.1.1.1", "tcp and (1 = len)", "(tcp) and 1",
        // Qualifier combinations.
        "src or dst 1.1.1.1", "dst or src 1.1.1.1", "dst and src 1.1.1.1", "src and dst host 1.1.1.1",
        "src or host 1.1.1.1", "src dst 1.1.1.1", "ip src 1.1.1.1", "ip host 1.1.1.1 or ip6",
        "ip proto 1 or 2", "proto 1 or 2", "ip protochain 6", "ether proto 1 or \\ip", "ip proto tcp",
        "src proto 1", "src gateway 1.1.1.1", "gateway", "host", "src", "tcp src 80", "tcp src port 80",
        "ether src 1:2:3:4:5:6", "ip6 dst net ::/0", "net 10/8", "net 10.0/8", "net 10.0.0.0 mask 255.0.0.0",
        "net 10.0.0.0 mask 255", "net 10.0.0.0/", "net fe80::/64", "host fe80::1 mask ffff::",
        "port ftp-data", "portrange 1-1024", "tcp portrange ftp-data-http", "tcp port 80-", "port \\80",
        "ip multicast", "ether broadcast", "broadcast", "tcp broadcast", "ip6 multicast or tcp",
        // Special primitives.
        "vlan", "vlan 100", "vlan (100)", "vlan any", "vlan 1 and vlan (2)", "mpls 1 and mpls", "pppoed",
        "pppoed 1234", "pppoes", "pppoes (3)", "geneve 5", "geneve (tcp)", "less 10", "less (10)", "greater 10",
        "less", "ifindex 3", "ifindex", "inbound", "outbound and tcp", "llc", "llc i", "llc rnr", "llc 5",
        "byte 5 = 3", "byte 5 & 3", "byte 5 | 3", "byte 5 < 3", "byte 5 > 3", "byte 5 == 3", "byte 5 != 3",
        "byte 5", "type mgt", "type mgt subtype beacon", "subtype 3", "dir 1", "wlan type data", "on eth0",
        "rnr 3", "reason 2", "action pass", "lane", "vpi 1", "vci > 2", "vpi (1 or 2)", "fisu", "sio 3",
        "opc (1 or 2)", "dpc <= 5", "radio", "vxlan", "vxlan 1", "lldp",
        // Names the grammar itself looks up.
        "type foo", "type 5", "type 16", "type mgt subtype foo", "type mgt subtype 3", "type data subtype beacon",
        "type 0 subtype beacon", "type 12 subtype beacon", "type MGT subtype BEACON", "type ctl subtype 0x10",
        "subtype foo", "subtype qos-data", "subtype 3", "dir foo", "dir 5", "dir NoDs", "reason foo",
        "reason MATCH", "reason 3", "action foo", "action block", "llc foo", "llc I", "llc dm",
        // Arithmetic.
        "len - 1 & 2 = 0", "len % 3 + 2 = 0", "-len % 2 = 0", "- - len = 0", "--1=len", "1 - -1 = len",
        "len = 1 = 2", "len < 1 + 2", "len <= 1 >> 2", "len != 1 ^ 2 ^ 3", "((len)) = 1", "((len) = 1)",
        "(len = 1)", "(1 = len)", "(len) = 1 and (tcp)", "ip[1:3]=1", "ip[1:(2)]=1", "ip[1:2]=1",
        "ip[2 * 3 : 4] = 5", "ip[ip[0] & 0xf] = 1", "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
        "icmp[icmptype] = icmp-timxceed", "icmp6[icmp6type] = icmp6-echo", "tcp[13] = tcp-cwr",
        "len = 4294967295", "len = 4294967296", "len = 08", "len = 010", "len = 0x", "len = 0xFFFFffff",
        "len = 0x100000000", "len = 99999999999", "len = 0", "len == 00", "len = 1 +", "len =", "len",
        "ip[] = 1", "ip[1 = 1", "tcp[1]", "ip6[-1] = 2", "len = len", "1 = 1", "link[0] = 1 and 2",
        // Scanner shapes.
        "ether host ab:cd:ef:0g:00:00", "host 1:2:3:4:5:6:7", "ether host 1:2:3:4:5:6:", "host 1::1.2.3.4",
        "host 1::01.2.3.4", "host 1::1.2.3.256", "host 1::0x1.2.3.4", "host ::", "host 1:2:3:4:5:6:7:8",
        "host 1:2:3:4:5:6:7:8:9", "ether host 01.02.03.04.05.06", "ether host abcdef000003",
        "ether host abcd.ef00.0003", "ether host 0:1:2:3:4:5", "ether host 00-11-22-33-44-55",
        "host 0x1.0x2", "host 1.2.3.4.5.6", "\\tcp", "ip proto \\tcp and \\udp", "tcpx", "tcp-syn",
        "port tcp-synx", "host 1.1.1.1 @", "len = 1\u{0B}", "host 1.1.1.1 and\n tcp", "host\t1.1.1.1",
        "tcp\r", "(", ")", "()", "( tcp", "tcp )", "[", "ip[", "&&", "||", "!", "and", "not", "host \\",
        "port 1_2", "port 1.", "tcp port 80 \\or 81", "tcp || \\udp", "icmp-echo = len",
        "host ::ffff:1.2.3.4", "host 0x1::", "host FE80::1", "host fe80::1%eth0", "ether host 1:2:3:4:5:6:7:8",
        "ether host aa:bb:cc:dd:ee:ff:", "host 1.2.3.4/24", "net 1.2.3.4/33", "ether host 1.2.3.4.5.6",
        "ether host 0011.2233.4455", "ether host 001122334455", "ether host 00112233445566", "port 0x50",
        "port 0X50", "port 1e3", "len=1", "len=-1", "ip[0]&0xf!=5", "tcp[13]&2!=0&&tcp", "tcp[tcpflags]&tcp-syn!=0",
        "icmp[icmptype]!=icmp-echo&&icmp[icmptype]!=icmp-echoreply", "tcp-syn", "port tcp-syn", "host icmp-echo",
        "proto icmp-echo", "less icmp-echo", "vlan tcp-ack", "ifindex icmptype", "port 80and", "port 80 andtcp",
        "tcp[0]=1or udp", "ip6[0:4]&0xfff00000=0x12300000", "ether[0:2]=0xffff", "ether[12:2]=0x800",
        "port 1.1.1.1and", "(tcp)or(udp)", "not(tcp)", "!(tcp)", "!!tcp", "port 1 and !2", "port 1 or(2)",
        "ip and(tcp or udp)", "ip[-1:2]=0", "ip[1:-2]=0", "len = 1 - - 1", "len = 1--1", "len = 1 * -1",
        "len<<1=2", "len>>1>=2", "len!=0x0", "len===1", "len=<1", "len=>1", "len<>1", "len><1", "len=!1",
        "ether proto 0x800", "ether proto \\0x800", "ppp proto 1", "link proto \\ip", "ip protochain \\tcp",
        "ip6 protochain 6 or 17", "tcp dst port ftp or ftp-data", "udp port domain or 53 or (123 or not 5)",
        "portrange 0x10-0x20", "portrange 08-09", "net 10", "net 10.1", "net 10.1.2", "net 10.1.2.3",
        "net 10.1.2.3/8", "net 010.1.2.3", "host 1.2.3.04", "host 1.2.3.256", "decnet host 1.2",
        "decnet host 63.1023", "mpls 1048575", "geneve 16777215", "vlan 4095 and vlan 1 or vlan",

    ]

    func testTrickyExpressionsAgainstLibpcap() throws {
        var mismatches: [String] = []
        for expression in Self.tricky {
            let libpcap = try Oracle.libpcap(expression)
            let ours = ourVerdict(expression)
            switch (libpcap, ours) {
            case (.accepted, .success), (.syntaxError, .failure), (.otherError, .success):
                continue
            case let (.otherError(message), .failure(error)) where error.message.hasPrefix(message):
                continue
            case let (.accepted, .failure(error)):
                mismatches.append("'\(expression)': libpcap accepts, we say \(error.message)")
            case let (.syntaxError(message), .success):
                mismatches.append("'\(expression)': libpcap says \(message), we accept")
            case let (.otherError(message), .failure(error)):
                mismatches.append("'\(expression)': libpcap says \(message), we say \(error.message)")
            }
        }
        XCTAssert(mismatches.isEmpty, mismatches.joined(separator: "\n"))
    }
}
