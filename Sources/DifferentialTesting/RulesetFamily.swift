import EBPF

/// The three classic shapes of real 5-tuple rulesets, generated from a seed (the same family,
/// count and seed give the same rules on every machine):
/// - `acl`: mostly exact destination hosts and small destination prefixes, a protocol,
///   destination ports (exact or ranges), some source prefixes;
/// - `firewall`: many wildcard addresses, port ranges on both sides;
/// - `ipChain`: mostly source and destination prefixes of many lengths, few ports.
/// Drop and pass are interleaved; about one rule in seven with addresses is IPv6.
public enum RulesetFamily: String, CaseIterable, Sendable {
    case acl
    case firewall
    case ipChain = "ipchain"

    /// How often each field is present and of what kind (probabilities in percent).
    struct Shape {
        /// Source address: wildcard, prefix (lengths `sourceLengths`), host.
        var sourceWildcard: Int, sourceHost: Int, sourceLengths: ClosedRange<Int>
        /// Destination address: wildcard, host, else a prefix of `destinationLengths`.
        var destinationWildcard: Int, destinationHost: Int, destinationLengths: ClosedRange<Int>
        /// Protocol: tcp, udp, icmp, else any.
        var tcp: Int, udp: Int, icmp: Int
        /// Ports of TCP/UDP rules: a destination port (exact share of those), a source range.
        var destinationPort: Int, destinationExact: Int, sourcePort: Int
        /// Rules that drop.
        var drop: Int
    }

    var shape: Shape {
        switch self {
        case .acl:
            Shape(sourceWildcard: 65, sourceHost: 5, sourceLengths: 8...24,
                  destinationWildcard: 5, destinationHost: 70, destinationLengths: 24...31,
                  tcp: 60, udp: 30, icmp: 5, destinationPort: 85, destinationExact: 60, sourcePort: 10, drop: 50)
        case .firewall:
            Shape(sourceWildcard: 60, sourceHost: 5, sourceLengths: 8...24,
                  destinationWildcard: 50, destinationHost: 20, destinationLengths: 16...28,
                  tcp: 50, udp: 35, icmp: 5, destinationPort: 80, destinationExact: 40, sourcePort: 45, drop: 50)
        case .ipChain:
            Shape(sourceWildcard: 10, sourceHost: 15, sourceLengths: 8...30,
                  destinationWildcard: 15, destinationHost: 15, destinationLengths: 8...30,
                  tcp: 20, udp: 10, icmp: 5, destinationPort: 20, destinationExact: 80, sourcePort: 5, drop: 50)
        }
    }

    /// Well-known service ports the exact-port rules draw from.
    static let servicePorts: [UInt16] = [20, 21, 22, 23, 25, 53, 67, 69, 80, 110, 123, 137, 143, 161, 179, 389, 443,
                                         445, 514, 587, 636, 993, 995, 1194, 1433, 1521, 2049, 3306, 3389, 5060,
                                         5432, 5672, 6379, 6443, 8080, 8443, 9090, 9200, 11211, 27017]
    /// Ranges that real rulesets repeat; the rest are drawn at random.
    static let commonRanges: [PortRange] = [PortRange(1024, 65535), PortRange(1, 1023), PortRange(6000, 6063),
                                            PortRange(49152, 65535), PortRange(8000, 8999), PortRange(30000, 32767)]

    /// `count` rules of this family.
    public func rules(count: Int, seed: UInt64) -> [FieldRule] {
        var random = SeededRandom(seed: seed ^ UInt64(truncatingIfNeeded: rawValue.hashValueStable))
        let sites = AddressSites(count: count, random: &random)
        return (0..<count).map { _ in rule(sites: sites, random: &random) }
    }

    private func rule(sites: AddressSites, random: inout SeededRandom) -> FieldRule {
        let shape = shape
        func percent(_ share: Int) -> Bool { random.next(100) < share }
        let ipv6 = percent(15)
        var rule = FieldRule(verdict: percent(shape.drop) ? .drop : .pass, source: nil, destination: nil, transport: .any)
        let sourceDraw = random.next(100)
        if sourceDraw >= shape.sourceWildcard {
            rule.source = sourceDraw < shape.sourceWildcard + shape.sourceHost
                ? sites.host(ipv6: ipv6, random: &random)
                : sites.prefix(ipv6: ipv6, lengths: shape.sourceLengths, random: &random)
        }
        let destinationDraw = random.next(100)
        if destinationDraw >= shape.destinationWildcard {
            rule.destination = destinationDraw < shape.destinationWildcard + shape.destinationHost
                ? sites.host(ipv6: ipv6, random: &random)
                : sites.prefix(ipv6: ipv6, lengths: shape.destinationLengths, random: &random)
        }
        let protocolDraw = random.next(100)
        rule.transport = protocolDraw < shape.tcp ? .tcp : protocolDraw < shape.tcp + shape.udp ? .udp
            : protocolDraw < shape.tcp + shape.udp + shape.icmp ? .icmp : .any
        if rule.transport != .icmp {
            if percent(shape.destinationPort) {
                rule.destinationPorts = percent(shape.destinationExact) ? exactPort(&random) : portRange(&random)
            }
            if percent(shape.sourcePort) { rule.sourcePorts = portRange(&random) }
        }
        // A rule of wildcards only would shadow everything after it: give it a service port.
        if rule.source == nil, rule.destination == nil, rule.destinationPorts == nil, rule.sourcePorts == nil {
            if rule.transport == .icmp { rule.transport = .tcp }
            rule.destinationPorts = exactPort(&random)
        }
        return rule
    }

    private func exactPort(_ random: inout SeededRandom) -> PortRange {
        let port = Self.servicePorts[random.next(Self.servicePorts.count)]
        return PortRange(port, port)
    }

    private func portRange(_ random: inout SeededRandom) -> PortRange {
        if random.next(2) == 0 { return Self.commonRanges[random.next(Self.commonRanges.count)] }
        let width = 1 << random.next(14)   // 2 … 16,384 ports
        let lower = 1 + random.next(65535 - width)
        return PortRange(UInt16(lower), UInt16(lower + width))
    }
}

/// The networks a generated ruleset's addresses come from: a few hundred sites (IPv4 /16s,
/// IPv6 /48s), so that prefixes nest and repeat as in real rulesets instead of scattering.
struct AddressSites {
    var ipv4: [[UInt8]]
    var ipv6: [[UInt8]]

    init(count: Int, random: inout SeededRandom) {
        let sites = 16 + count / 32
        ipv4 = (0..<sites).map { _ in
            var first = 1 + random.next(223)
            if first == 127 { first = 126 }
            return [UInt8(first), UInt8(random.next(256)), 0, 0]
        }
        ipv6 = (0..<sites).map { _ in
            [0x20, 0x01, 0x0d, 0xb8, UInt8(random.next(256)), UInt8(random.next(256))] + Array(repeating: 0, count: 10)
        }
    }

    func host(ipv6: Bool, random: inout SeededRandom) -> AddressPrefix {
        let site = ipv6 ? self.ipv6[random.next(self.ipv6.count)] : ipv4[random.next(ipv4.count)]
        let address = AddressPrefix(masking: site, length: ipv6 ? 48 : 16).randomAddress(using: &random)
        return AddressPrefix(masking: address, length: address.count * 8)
    }

    /// An IPv4 prefix of `lengths`, or an IPv6 one of a length as common there (/32 … /127).
    func prefix(ipv6: Bool, lengths: ClosedRange<Int>, random: inout SeededRandom) -> AddressPrefix {
        let length = ipv6 ? [32, 40, 44, 48, 52, 56, 60, 64, 64, 64, 96, 112, 120, 127][random.next(14)]
            : lengths.lowerBound + random.next(lengths.count)
        return AddressPrefix(masking: host(ipv6: ipv6, random: &random).bytes, length: length)
    }
}

extension String {
    /// A hash of the text that does not change between runs (Swift's `hashValue` does).
    var hashValueStable: UInt64 {
        utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
