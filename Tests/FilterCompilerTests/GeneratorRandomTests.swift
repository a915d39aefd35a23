import XCTest
import FilterLanguage
import FilterCompiler
import DifferentialTesting

/// Random combinations of primitives (encapsulations in any position, long programs whose
/// branches need `ja` stepping stones) compared with libpcap's unoptimized code.
final class GeneratorRandomTests: XCTestCase {
    static let primitives = [
        "tcp", "udp", "icmp", "ip", "ip6", "arp", "rarp", "sctp", "igmp", "pim", "vrrp", "ah", "esp", "icmp6",
        "stp", "ipx", "iso", "atalk", "aarp", "decnet", "lat", "sca", "moprc", "mopdl", "netbeui", "clnp", "esis",
        "isis", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp",
        "host 1.2.3.4", "src host 10.0.0.1", "dst net 10.0.0.0/8", "net 192.168", "ip6 host ::1",
        "ip6 src net 2001:db8::/32", "ether host 0:1:2:3:4:5", "ether src 0:1:2:3:4:5", "ether broadcast",
        "ether multicast", "ip multicast", "ip6 multicast", "tcp port 80", "udp port 53", "port 22",
        "src port 1024", "dst portrange 1-1023", "tcp src portrange 100-200", "sctp port 9", "portrange 10-20",
        "proto 6", "ip proto 17", "ip6 proto 58", "ether proto 0x800", "ether proto 100", "iso proto 0x81",
        "isis proto 0x1a", "protochain 6", "ip6 protochain 17", "ip protochain 51",
        "vlan", "vlan 10", "mpls", "mpls 5", "pppoes", "pppoes 7", "pppoed", "geneve", "geneve 9",
        "less 100", "greater 1000", "inbound", "outbound", "ifindex 2", "llc", "llc i", "llc u", "llc xid",
        "len > 64", "ether[0] & 1 = 1", "ip[0] & 0xf > 5", "tcp[13] & 2 != 0", "udp[0:2] = 53", "icmp[0] = 8",
        "ip6[6] = 6", "ether[12:2] = 0x800", "ip[2:2] - 20 < len", "tcp[tcp[0]] = 1", "icmp6[0] = 128",
        "decnet host 1.2", "decnet src 3.4", "arp src 1.2.3.4", "rarp dst host 1.2.3.4", "host 1.2.3",
        "src and dst host 1.1.1.1", "src and dst port 5", "byte 3 = 1",
    ]

    /// A small deterministic generator (xorshift), so failures can be reproduced.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static func expression(_ random: inout Random, depth: Int = 0) -> String {
        if depth > 3 || random.chance(35) { return primitives[random.below(primitives.count)] }
        if random.chance(20) { return "not (" + expression(&random, depth: depth + 1) + ")" }
        let op = [" and ", " or ", " && ", " || "][random.below(4)]
        let text = expression(&random, depth: depth + 1) + op + expression(&random, depth: depth + 1)
        return random.chance(50) ? "(" + text + ")" : text
    }

    func testRandomCombinations() {
        var random = Random(state: 0x9e37_79b9_7f4a_7c15)
        var tally = GeneratorLibpcapTests.Tally()
        var seen = Set<String>()
        while seen.count < 400 {
            let text = Self.expression(&random)
            guard seen.insert(text).inserted else { continue }
            tally.check(text)
        }
        for line in tally.report { print(line) }
        print("random combinations: \(tally.identical)/\(tally.total) identical (\(String(format: "%.1f", tally.identity))%)")
        XCTAssertEqual(tally.agreed, tally.total, "accept/reject must agree with libpcap")
        XCTAssertGreaterThanOrEqual(tally.identity, GeneratorLibpcapTests.requiredIdentity)
    }

    static let words = [
        "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp", "pim", "vrrp", "ah", "esp",
        "ether", "link", "host", "net", "port", "portrange", "proto", "protochain", "gateway", "src", "dst",
        "and", "or", "not", "mask", "broadcast", "multicast", "less", "greater", "len", "vlan", "mpls",
        "pppoes", "pppoed", "geneve", "llc", "inbound", "outbound", "ifindex", "decnet", "iso", "isis", "clnp",
        "l1", "stp", "ipx", "atalk", "byte", "tcpflags", "tcp-syn", "icmptype", "icmp-echo", "type", "wlan",
        "0", "1", "80", "0x10", "4096", "65536", "1.2.3.4", "10.0", "::1", "fe80::/10", "10.0.0.0/8",
        "0:1:2:3:4:5", "localhost", "1-1024", "\\tcp", "smtp", "(", ")", "[", "]", ":", "+", "-", "*", "/",
        "&", "|", "<<", "=", "!=", "<", ">=", "!", "&&", "||",
    ]

    /// Token soup: accept/reject must agree with libpcap, and what both accept must be the same code.
    func testTokenSoup() {
        var random = Random(state: 0x2545_f491_4f6c_dd1d)
        var tally = GeneratorLibpcapTests.Tally()
        var seen = Set<String>()
        while seen.count < 1500 {
            let count = 1 + random.below(7)
            let text = (0 ..< count).map { _ in Self.words[random.below(Self.words.count)] }.joined(separator: " ")
            guard !text.hasPrefix("-"), seen.insert(text).inserted else { continue }
            tally.check(text)
        }
        for line in tally.report { print(line) }
        print("token soup: \(tally.agreed)/\(tally.total) accept/reject agreement, \(tally.identical)/\(tally.total) identical")
        XCTAssertEqual(tally.agreed, tally.total, "accept/reject must agree with libpcap")
        XCTAssertGreaterThanOrEqual(tally.identity, GeneratorLibpcapTests.requiredIdentity)
    }

    /// `compile` refuses, as libpcap does, a filter the optimizer reduces to "reject".
    func testCompileRefusesWhatRejectsEverything() {
        for text in ["ip and not ip", "tcp and udp", "less 10 and greater 20"] {
            let libpcap = Libpcap.compile(text, optimize: true)
            do {
                _ = try FilterCompiler.compile(text)
                if case let .failure(error) = libpcap { XCTFail("\(text): we compile it, libpcap says \(error.message)") }
            } catch {
                if case .success = libpcap { XCTFail("\(text): we refuse it (\(error.message)), libpcap compiles it") }
                else { XCTAssertEqual(error.message, "expression rejects all packets") }
            }
        }
        XCTAssertNoThrow(try FilterCompiler.compile("tcp port 80"))
        XCTAssertThrowsError(try FilterCompiler.compile("vlan 5000"))
    }
}
