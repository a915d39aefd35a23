import DifferentialTesting

/// A random ACL of IPv4 5-tuple rules (protocol, source prefix or host or any, destination host or
/// small network, source and destination port, range or any), drop and pass interleaved, written
/// both as xdpfw rules and as nft statements of the same meaning for IPv4 frames, with one frame
/// aimed at each rule (it may match an earlier rule first, for both engines alike).
struct FiveTupleRules {
    struct Rule {
        var tcp: Bool
        var source: Prefix?
        var destination: Prefix?
        var sourcePorts: ClosedRange<UInt16>?
        var destinationPorts: ClosedRange<UInt16>?
        var drop: Bool
    }

    var rules: [Rule] = []
    private var random: SeededRandom

    init(count: Int, seed: UInt64) {
        random = SeededRandom(seed: seed)
        for _ in 0..<count {
            let tcp = random.next() % 100 < 60
            // Every rule names its destination (a host or a small network, as ACLs do): no
            // catch-all rule early in the list answers for most frames.
            let source: Prefix? = random.next() % 100 < 40 ? nil : randomPrefix(base: 10, lengths: [8, 16, 24, 32])
            let destination: Prefix? = randomPrefix(base: 192, lengths: random.next() % 100 < 60 ? [32] : [24, 28])
            let destinationPorts: ClosedRange<UInt16>? = {
                switch random.next() % 10 {
                case 0..<3: return nil
                case 3..<7: let port = UInt16(1 + random.next() % 10_000); return port...port
                default: let low = UInt16(1_024 + random.next() % 30_000); return low...(low + UInt16(random.next() % 5_000))
                }
            }()
            let sourcePorts: ClosedRange<UInt16>? = random.next() % 100 < 20 ? 1_024...65_535 : nil
            rules.append(Rule(tcp: tcp, source: source, destination: destination, sourcePorts: sourcePorts,
                              destinationPorts: destinationPorts, drop: random.next() % 100 < 70))
        }
    }

    private mutating func randomPrefix(base: UInt8, lengths: [Int]) -> Prefix {
        let length = lengths[Int(random.next() % UInt64(lengths.count))]
        let address = UInt32(base) << 24 | UInt32(truncatingIfNeeded: random.next()) & 0x00ff_ffff
        return Prefix(address: length == 0 ? 0 : address & ~UInt32(0) << (32 - length), length: length)
    }

    var xdpfwText: String {
        "policy pass\n" + rules.map { rule in
            let proto = rule.tcp ? "tcp" : "udp"
            var terms = [proto]
            if let source = rule.source { terms.append(source.length == 32 ? "src host \(source.addressText)" : "src net \(source.text)") }
            if let destination = rule.destination {
                terms.append(destination.length == 32 ? "dst host \(destination.addressText)" : "dst net \(destination.text)")
            }
            if let ports = rule.sourcePorts { terms.append(Self.pcapPorts(proto, "src", ports)) }
            if let ports = rule.destinationPorts { terms.append(Self.pcapPorts(proto, "dst", ports)) }
            return (rule.drop ? "drop " : "pass ") + terms.joined(separator: " and ") + "\n"
        }.joined()
    }

    static func pcapPorts(_ proto: String, _ side: String, _ ports: ClosedRange<UInt16>) -> String {
        ports.count == 1 ? "\(proto) \(side) port \(ports.lowerBound)" : "\(proto) \(side) portrange \(ports.lowerBound)-\(ports.upperBound)"
    }

    var nftStatements: String {
        rules.map { rule in
            let proto = rule.tcp ? "tcp" : "udp"
            var terms = ["ip protocol \(proto)"]
            if let source = rule.source { terms.append("ip saddr \(source.text)") }
            if let destination = rule.destination { terms.append("ip daddr \(destination.text)") }
            if let ports = rule.sourcePorts { terms.append("\(proto) sport \(Self.nftPorts(ports))") }
            if let ports = rule.destinationPorts { terms.append("\(proto) dport \(Self.nftPorts(ports))") }
            return terms.joined(separator: " ") + (rule.drop ? " drop\n" : " accept\n")
        }.joined()
    }

    static func nftPorts(_ ports: ClosedRange<UInt16>) -> String {
        ports.count == 1 ? "\(ports.lowerBound)" : "\(ports.lowerBound)-\(ports.upperBound)"
    }

    /// One frame per rule, inside every field the rule names.
    var aimedFrames: [[UInt8]] {
        var random = SeededRandom(seed: 7)
        func pick(_ prefix: Prefix?, otherwise base: UInt32) -> [UInt8] {
            let host = UInt32(truncatingIfNeeded: random.next())
            let address = prefix.map { $0.address | host & ($0.length == 32 ? 0 : ~UInt32(0) >> $0.length) } ?? (base | host & 0xffff)
            return PrefixSet.bytes(address)
        }
        func port(_ range: ClosedRange<UInt16>?, otherwise fallback: UInt16) -> UInt16 {
            guard let range else { return fallback }
            return range.lowerBound + UInt16(random.next() % UInt64(range.count))
        }
        return rules.map { rule in
            let source = pick(rule.source, otherwise: 0xac10_0000), destination = pick(rule.destination, otherwise: 0xac11_0000)
            let sourcePort = port(rule.sourcePorts, otherwise: 40_000), destinationPort = port(rule.destinationPorts, otherwise: 50_000)
            return rule.tcp
                ? TrafficFrames.tcpSYN(source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
                : TrafficFrames.udp(source: source, destination: destination, sourcePort: sourcePort,
                                    destinationPort: destinationPort, size: 64)
        }
    }
}

/// An IPv4 prefix.
struct Prefix: Hashable {
    var address: UInt32
    var length: Int
    var addressText: String { PrefixSet.dotted(address) }
    var text: String { "\(addressText)/\(length)" }
}

/// `count` disjoint IPv4 prefixes (/24 to /32, each in its own /24 of 10.0.0.0/8), one address in
/// each, and a UDP frame from each address.
struct PrefixSet {
    var prefixes: [Prefix] = []
    var addresses: [UInt32] = []

    init(count: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var blocks = Set<UInt32>()
        while blocks.count < min(count, 65_536) { blocks.insert(UInt32(truncatingIfNeeded: random.next()) & 0xffff) }
        for block in blocks.sorted() {
            let length = 24 + Int(random.next() % 9)
            let base = 0x0a00_0000 | block << 8
            let prefix = Prefix(address: base | UInt32(truncatingIfNeeded: random.next()) & 0xff & (length == 32 ? 0xff : ~(0xff >> (length - 24))),
                                length: length)
            prefixes.append(prefix)
            addresses.append(prefix.address | (length == 32 ? 0 : UInt32(truncatingIfNeeded: random.next()) & (0xff >> (length - 24))))
        }
    }

    var aimedFrames: [[UInt8]] {
        addresses.map { TrafficFrames.udp(source: Self.bytes($0), destination: [10, 0, 0, 2], sourcePort: 4000, destinationPort: 9, size: 64) }
    }

    static func bytes(_ address: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: address >> $0) } }
    static func dotted(_ address: UInt32) -> String { bytes(address).map(String.init).joined(separator: ".") }
}
