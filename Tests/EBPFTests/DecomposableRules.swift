import DifferentialTesting
import EBPF

/// Random rules of the shapes that decompose into field constraints (protocol names, ports and
/// port ranges, hosts and nets of both families, every direction, `and`/`or` of them, sets),
/// and frames that carry the addresses and ports they name. Values come from small pools so
/// that prefixes nest, ranges overlap and rules cover each other.
struct DecomposableRules {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    static let hosts = ["1.2.3.4", "5.6.7.8", "10.0.0.1", "9.9.9.9", "2001:db8::1", "2001:db8::2"]
    static let nets = ["1.2.0.0/16", "10.0.0.0/8", "5.6.7.0/24", "0.0.0.0/1", "128.0.0.0/1", "1.2.3.4/32", "10.0",
                       "2001:db8::/32", "2001:db8::/127", "2001:db8::2/128", "0.0.0.0/0", "::/0"]
    static let ports: [UInt16] = [7, 25, 53, 67, 68, 80, 1023, 1024, 5672, 65535]
    static let directions = ["", "src ", "dst ", "src or dst ", "src and dst "]

    mutating func pick<T>(_ values: [T]) -> T { values[random.next(values.count)] }

    static let protocolNumbers = ["1", "6", "17", "44", "47", "58", "132", "\\tcp", "\\udp", "\\icmp"]
    /// Comparisons of TCP's flags and the ICMP and ICMPv6 types.
    static let transportBytes = [
        "tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 0x12 = 0x12", "tcp[tcpflags] = tcp-ack", "tcp[13] > 16",
        "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[13] & tcp-rst = 0", "2 = tcp[13]", "tcp[13] & tcp-syn = 0",
        "icmp[icmptype] = icmp-echo", "icmp[0] != 8", "icmp[icmptype] < 5", "icmp[0] + 1 = 4",
        "icmp6[icmp6type] = icmp6-echo", "icmp6[0] >= 128", "icmp6[icmp6type] != 135",
        // Ports read as loads.
        "tcp[2:2] = 80", "udp[0:2] >= 1024", "1024 > tcp[0:2]", "udp[2:2] != 53", "tcp[2:2] <= 25", "sctp[0:2] > 67",
    ]
    static let flags: [UInt8] = [0x00, 0x02, 0x12, 0x10, 0x11, 0x04, 0x18, 0x01]
    static let icmpTypes: [UInt8] = [0, 3, 8, 11]
    static let icmp6Types: [UInt8] = [1, 128, 129, 135]

    /// One primitive.
    mutating func primitive() -> String {
        switch random.next(7) {
        case 0:
            return pick(["tcp", "udp", "sctp", "icmp", "icmp6", "ip", "ip6", "arp", "rarp"])
        case 4:
            switch random.next(4) {
            case 0: return "\(pick(["ip ", "ip6 ", ""]))proto \(pick(Self.protocolNumbers))"
            case 1: return "ether proto \(pick(["0x800", "0x86dd", "\\arp", "\\rarp", "\\ip"]))"
            default: return pick(Self.transportBytes)
            }
        case 5:
            return "\(pick(["", "src ", "dst "]))net \(pick(["10.0.0.0 mask 255.0.0.0", "1.2.0.0 mask 255.255.0.0", "5.6.7.8 mask 255.255.255.255"]))"
        case 6:
            // A negated address: decomposes only beside a test that names the family.
            return "not " + addressPrimitive()
        case 1:
            let proto = pick(["", "", "tcp ", "udp ", "sctp "])
            if random.next(3) == 0 {
                let (a, b) = (pick(Self.ports), pick(Self.ports))
                return "\(proto)\(pick(Self.directions))portrange \(a)-\(b)"
            }
            return "\(proto)\(pick(Self.directions))port \(pick(Self.ports))"
        default:
            return addressPrimitive()
        }
    }

    mutating func addressPrimitive() -> String {
        let isNet = random.next(2) == 0
        let operand = isNet ? pick(Self.nets) : pick(Self.hosts)
        let ipv6 = operand.contains(":")
        let proto = ipv6 ? pick(["", "ip6 "]) : pick(["", "", "ip ", "arp ", "rarp "])
        return "\(proto)\(pick(Self.directions))\(isNet ? "net" : "host") \(operand)"
    }

    /// One to three primitives joined by `and`/`or`, sometimes in parentheses.
    mutating func expression() -> String {
        var text = primitive()
        for _ in 0..<random.next(3) {
            let joiner = random.next(2) == 0 ? " and " : " or "
            let next = random.next(3) == 0 ? "(\(primitive()) or \(primitive()))" : primitive()
            text += joiner + next
        }
        return text
    }

    /// Frames whose fields come from the pools: TCP, UDP, SCTP and ICMP over IPv4 and IPv6
    /// (some IPv4 ones later fragments, some with IHL below 5), ARP and RARP, each with every truncation.
    mutating func frames(count: Int) -> [[UInt8]] {
        typealias B = PacketBuilder
        let v4 = Self.hosts.filter { !$0.contains(":") }.map { $0.split(separator: ".").map { UInt8($0)! } }
        let v6 = [B.ipv6A, B.ipv6B, [0x20, 0x01, 0x0d, 0xb9] + Array(repeating: 0, count: 12)]
        var frames: [[UInt8]] = []
        for _ in 0..<count {
            let (sport, dport) = (pick(Self.ports), pick(Self.ports))
            let number = pick([6, 17, 132, 1, 58] as [UInt8])
            let transport: [UInt8] = switch number {
            case 6: B.tcp(source: sport, destination: dport, flags: pick(Self.flags))
            case 17: B.udp(source: sport, destination: dport)
            case 132: B.sctp(source: sport, destination: dport)
            case 1: B.icmp(type: pick(Self.icmpTypes))
            default: B.icmp(type: pick(Self.icmp6Types))
            }
            switch random.next(4) {
            case 0, 1:
                let fragment: UInt16 = random.next(5) == 0 ? 100 : 0
                var frame = B.ethernet(type: 0x0800, B.ipv4(source: pick(v4), destination: pick(v4), protocol: number,
                                                            fragmentOffset: fragment, transport))
                // Now and then a header length below 5: libpcap reads the ports inside the IP header.
                if random.next(8) == 0 { frame[14] = 0x40 | UInt8(random.next(5)) }
                frames.append(frame)
            case 2:
                frames.append(B.ethernet(type: 0x86dd, B.ipv6(source: pick(v6), destination: pick(v6), nextHeader: number, transport)))
            default:
                frames.append(B.ethernet(type: pick([0x0806, 0x8035]), B.arp(operation: 1, senderIP: pick(v4), targetIP: pick(v4))))
            }
        }
        return frames + frames.flatMap { frame in (0..<frame.count).map { Array(frame.prefix($0)) } }
    }
}
