import DifferentialTesting
import EBPF

/// Random rulesets of the shapes rule merging turns into trie lookups, and packets that hit
/// them: addresses from a small pool so that prefixes overlap and nest (first match is then
/// not longest-prefix match), a few rules of other shapes that split runs, every verdict.
struct MergeableRulesets {
    var random: SeededRandom

    enum Family: String, CaseIterable { case address, addressAndPort, mixed, port, portsAndAddresses }

    /// Prefix lengths the address rules use (few lengths: hash maps per length; many: tries).
    var ipv4Lengths = [8, 12, 16, 20, 24, 28, 30, 32]
    var ipv6Lengths = [16, 32, 48, 64, 120, 128]

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func rules(_ family: Family, count: Int) -> [(expression: String, verdict: Verdict)] {
        (0..<count).map { _ in
            let verdict: Verdict = random.next(2) == 0 ? .drop : .pass
            switch family {
            case .address: return (random.next(12) == 0 ? breaker() : addressRule(), verdict)
            case .addressAndPort: return (random.next(12) == 0 ? breaker() : addressAndPortRule(), verdict)
            case .mixed:
                switch random.next(3) {
                case 0: return (addressRule(), verdict)
                case 1: return (addressAndPortRule(), verdict)
                default: return (breaker(), verdict)
                }
            case .port: return (random.next(12) == 0 ? breaker() : portRule(), verdict)
            case .portsAndAddresses:
                switch random.next(4) {
                case 0: return (addressRule(), verdict)
                case 1: return (addressAndPortRule(), verdict)
                default: return (random.next(8) == 0 ? breaker() : portRule(), verdict)
                }
            }
        }
    }

    /// Rules of shapes that are not merged (or not with their neighbours).
    private mutating func breaker() -> String {
        ["tcp port 80", "udp", "ip src host 10.1.2.3", "arp", "icmp", "ip6 and tcp", "src net 10.1.0.0/16 or dst port 22",
         "dst host 10.0.1.3 and udp src port 53"][random.next(8)]
    }

    private mutating func addressRule() -> String {
        if random.next(6) == 0 {
            // An `or` of addresses with one direction: a rule with several lookup entries.
            let direction = ["src", "dst"][random.next(2)]
            let list = (0..<(2 + random.next(3))).map { _ in
                random.next(3) == 0 ? ipv6Text(ipv6Address())
                    : "\(mask(ipv4Address(), to: 24).map(String.init).joined(separator: "."))/\(random.next(2) == 0 ? 24 : 32)"
            }
            let typed = list.map { $0.contains("/") ? "net \($0)" : "host \($0)" }
            return "\(direction) \(typed[0]) or " + typed.dropFirst().joined(separator: " or ")
        }
        let direction = ["src ", "dst ", "", "src or dst "][random.next(4)]
        if random.next(4) == 0 {
            let length = ipv6Lengths[random.next(ipv6Lengths.count)]
            if length == 128 { return "\(direction)host \(ipv6Text(ipv6Address()))" }
            return "\(direction)net \(ipv6Text(ipv6Address(maskedTo: length)))/\(length)"
        }
        let length = ipv4Lengths[random.next(ipv4Lengths.count)]
        if length == 32, random.next(2) == 0 { return "\(direction)host \(ipv4Address().map(String.init).joined(separator: "."))" }
        return "\(direction)net \(mask(ipv4Address(), to: length).map(String.init).joined(separator: "."))/\(length)"
    }

    private mutating func addressAndPortRule() -> String {
        let addressSide = random.next(5) == 0 ? "dst" : "src"
        let portSide = random.next(5) == 0 ? "src" : "dst"
        let transport = random.next(3) == 0 ? "udp" : "tcp"
        let address: String
        if random.next(4) == 0 {
            let length = ipv6Lengths[random.next(ipv6Lengths.count)]
            address = "net \(ipv6Text(ipv6Address(maskedTo: length)))/\(length)"
        } else {
            let length = ipv4Lengths[random.next(ipv4Lengths.count)]
            address = "net \(mask(ipv4Address(), to: length).map(String.init).joined(separator: "."))/\(length)"
        }
        var port = "\(transport) \(portSide) port \(ports[random.next(ports.count)])"
        if random.next(4) == 0 { port = "(\(port) or \(ports[random.next(ports.count)]))" }
        return random.next(2) == 0 ? "\(addressSide) \(address) and \(port)" : "\(port) and \(addressSide) \(address)"
    }

    /// `[tcp|udp|sctp] [src|dst|src or dst] port N [or M…]`.
    mutating func portRule() -> String {
        let transport = ["tcp ", "udp ", "sctp ", ""][random.next(4)]
        let direction = ["src ", "dst ", "", "src or dst "][random.next(4)]
        var rule = "\(transport)\(direction)port \(ports[random.next(ports.count)])"
        if random.next(5) == 0 { rule += (0..<(1 + random.next(2))).map { _ in " or \(ports[random.next(ports.count)])" }.joined() }
        return rule
    }

    let ports: [UInt16] = [22, 53, 80, 443, 8080]

    /// Frames for port rules: IPv4 TCP/UDP/SCTP/ICMP (some with options, some fragments: first
    /// and later), IPv6 TCP/UDP/SCTP (some behind a hop-by-hop header), ports from the rules'
    /// pool on either side, and every truncation of a few (through the ports of each shape).
    mutating func portPackets(count: Int) -> [[UInt8]] {
        typealias P = PacketBuilder
        var frames: [[UInt8]] = []
        func port() -> UInt16 { random.next(4) == 0 ? 40000 : ports[random.next(ports.count)] }
        for _ in 0..<count {
            let (sourcePort, destinationPort) = (port(), port())
            let number: UInt8 = [6, 17, 132, 1][random.next(4)]
            let transport: [UInt8]
            switch number {
            case 6: transport = P.tcp(source: sourcePort, destination: destinationPort)
            case 17: transport = P.udp(source: sourcePort, destination: destinationPort)
            case 132: transport = P.sctp(source: sourcePort, destination: destinationPort)
            default: transport = P.be16(sourcePort) + P.be16(destinationPort) + [0, 0, 0, 0]
            }
            if random.next(5) < 3 {
                let options: [UInt8] = random.next(4) == 0 ? [1, 1, 1, 1, 1, 1, 1, 1] : []
                let fragment: UInt16 = random.next(8) == 0 ? 100 : 0
                frames.append(P.ethernet(type: 0x0800, P.ipv4(source: ipv4Address(), destination: ipv4Address(), protocol: number,
                                                              options: options, fragmentOffset: fragment,
                                                              moreFragments: random.next(6) == 0, transport)))
            } else {
                let extensions: [(type: UInt8, body: [UInt8])] = random.next(6) == 0 ? [(UInt8(0), P.extensionBody())] : []
                frames.append(P.ethernet(type: 0x86dd, P.ipv6(source: ipv6Address(), destination: ipv6Address(),
                                                              nextHeader: number, extensions: extensions, transport)))
            }
        }
        var truncated: [[UInt8]] = []
        // Every length of a few frames of each family (with and without IPv4 options).
        let shortened = frames.filter { $0[12] == 0x08 && $0[14] == 0x45 }.prefix(3) + frames.filter { $0[12] == 0x08 && $0[14] != 0x45 }.prefix(3)
            + frames.filter { $0[12] == 0x86 }.prefix(3)
        for frame in shortened {
            for length in 14..<min(frame.count, 90) { truncated.append(Array(frame.prefix(length))) }
        }
        return frames + truncated
    }

    mutating func ipv4Address() -> [UInt8] { [10, UInt8(random.next(3)), UInt8(random.next(4)), UInt8(random.next(6))] }

    mutating func ipv6Address(maskedTo length: Int = 128) -> [UInt8] {
        var bytes: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, UInt8(random.next(3))] + [UInt8](repeating: 0, count: 9) + [UInt8(random.next(6))]
        if random.next(3) == 0 { bytes[8] = 0x80 }
        return mask(bytes, to: length)
    }

    func mask(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(max(length - index * 8, 0), 8)
            return bits == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
    }

    func ipv6Text(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// Frames with addresses and ports from the rules' pool: IPv4 TCP/UDP (some fragments,
    /// some with options), ARP and RARP, IPv6 TCP/UDP, and every truncation of a few of them.
    mutating func packets(count: Int) -> [[UInt8]] {
        typealias P = PacketBuilder
        var frames: [[UInt8]] = []
        for _ in 0..<count {
            let sourcePort = random.next(2) == 0 ? ports[random.next(ports.count)] : 40000
            let destinationPort = ports[random.next(ports.count)]
            let transport = random.next(2) == 0 ? P.tcp(source: sourcePort, destination: destinationPort)
                : P.udp(source: sourcePort, destination: destinationPort)
            let number: UInt8 = transport.count == 20 ? 6 : 17
            switch random.next(6) {
            case 0, 1, 2:
                let options: [UInt8] = random.next(5) == 0 ? [1, 1, 1, 1] : []
                let fragment: UInt16 = random.next(8) == 0 ? 100 : 0
                frames.append(P.ethernet(type: 0x0800, P.ipv4(source: ipv4Address(), destination: ipv4Address(), protocol: number,
                                                              options: options, fragmentOffset: fragment, transport)))
            case 3:
                frames.append(P.ethernet(type: random.next(2) == 0 ? 0x0806 : 0x8035,
                                         P.arp(operation: 1, senderIP: ipv4Address(), targetIP: ipv4Address())))
            default:
                frames.append(P.ethernet(type: 0x86dd, P.ipv6(source: ipv6Address(), destination: ipv6Address(),
                                                              nextHeader: number, transport)))
            }
        }
        var truncated: [[UInt8]] = []
        for frame in frames.prefix(6) {
            for length in 14..<frame.count { truncated.append(Array(frame.prefix(length))) }
        }
        return frames + truncated
    }
}

