import EBPF

/// What the ruleset generators need of the compiler's address prefix (EBPF's `AddressPrefix`:
/// the address with its host bits zero, as libpcap wants `net` written, and a length).
extension AddressPrefix {
    /// `address` (4 or 16 bytes) with the bits past `length` cleared.
    public init(masking address: [UInt8], length: Int) {
        let masked = address.enumerated().map { index, byte in
            let kept = max(0, min(8, length - index * 8))
            return kept == 8 ? byte : byte & ~(0xff >> UInt8(kept))
        }
        self.init(bytes: masked, length: length)!
    }

    public var isIPv6: Bool { family == .ipv6 }
    public var isHost: Bool { length == family.width * 8 }

    public func contains(_ address: [UInt8]) -> Bool {
        address.count == family.width && AddressPrefix(masking: address, length: length) == self
    }

    /// An address inside the prefix, host bits drawn from `random`.
    public func randomAddress(using random: inout SeededRandom) -> [UInt8] {
        let bytes = self.bytes
        return bytes.enumerated().map { index, byte in
            let kept = max(0, min(8, length - index * 8))
            return byte | UInt8(truncatingIfNeeded: random.next()) & (0xff >> UInt8(kept))
        }
    }

    /// `192.0.2.5`, `10.1.0.0/16`, `2001:db8::/48`.
    public var text: String {
        let bytes = self.bytes
        let address = isIPv6 ? Self.ipv6Text(bytes) : bytes.map(String.init).joined(separator: ".")
        return isHost ? address : "\(address)/\(length)"
    }

    /// `host ADDRESS` or `net PREFIX`, for `src`/`dst`.
    public var primitive: String { isHost ? "host \(text)" : "net \(text)" }

    /// Eight hexadecimal groups with the longest run of two or more zero groups written `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]) }
        var best = (start: -1, count: 1), start = 0
        for index in 0...groups.count {
            if index < groups.count, groups[index] == 0 { continue }
            if index - start > best.count { best = (start, index - start) }
            start = index + 1
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":"), tail = hex[(best.start + best.count)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// A closed range of transport ports; one port is written `port N`, more `portrange A-B`.
public struct PortRange: Hashable, Sendable {
    public var lower: UInt16
    public var upper: UInt16
    public init(_ lower: UInt16, _ upper: UInt16) { self.lower = lower; self.upper = upper }
    public func contains(_ port: UInt16) -> Bool { lower <= port && port <= upper }
    public var primitive: String { lower == upper ? "port \(lower)" : "portrange \(lower)-\(upper)" }
}

/// The transport protocol a generated rule asks for.
public enum TransportMatch: Hashable, Sendable {
    case tcp, udp
    /// `icmp` (IPv4) or `icmp6` (IPv6 rules).
    case icmp
    /// No protocol named: with ports, pcap-filter means TCP, UDP or SCTP.
    case any
}

/// The IP protocol numbers the generators and their frames use (the wire format, as
/// PacketBuilder spells headers out itself).
enum IPProtocolNumber {
    static let icmp: UInt8 = 1, tcp: UInt8 = 6, udp: UInt8 = 17, icmp6: UInt8 = 58, sctp: UInt8 = 132
    static let ipv4EtherType: UInt16 = 0x0800, ipv6EtherType: UInt16 = 0x86dd
}

/// One 5-tuple rule of a generated ruleset: a conjunction of a source and a destination
/// prefix, a protocol and port ranges, each of which may be left out (a wildcard).
public struct FieldRule: Hashable, Sendable {
    public var verdict: Verdict
    public var source: AddressPrefix?
    public var destination: AddressPrefix?
    public var transport: TransportMatch
    public var sourcePorts: PortRange?
    public var destinationPorts: PortRange?

    /// Whether the rule can only match IPv6 (it names an IPv6 address).
    public var isIPv6: Bool { source?.isIPv6 ?? destination?.isIPv6 ?? false }

    /// The pcap-filter expression: `src net 10.1.0.0/16 and dst host 192.0.2.5 and tcp dst portrange 1024-65535`.
    public var expression: String {
        var parts: [String] = []
        if let source { parts.append("src " + source.primitive) }
        if let destination { parts.append("dst " + destination.primitive) }
        let name: String? = switch transport {
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmp: isIPv6 ? "icmp6" : "icmp"
        case .any: nil
        }
        let ports = [sourcePorts.map { "src " + $0.primitive }, destinationPorts.map { "dst " + $0.primitive }].compactMap { $0 }
        if ports.isEmpty {
            if let name { parts.append(name) }
        } else {
            let qualifier = name.map { "\($0) " } ?? ""
            parts += ports.map { qualifier + $0 }
        }
        return parts.joined(separator: " and ")
    }

    /// The line of rules.conf.
    public var line: String { "\(verdict.rawValue) \(expression)" }

    /// Whether libpcap's filter for `expression` accepts an unfragmented frame of `flow`.
    public func matches(_ flow: Flow) -> Bool {
        if let source, !source.contains(flow.source) { return false }
        if let destination, !destination.contains(flow.destination) { return false }
        let carriesPorts = [IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp].contains(flow.ipProtocol)
        switch transport {
        case .tcp: if flow.ipProtocol != IPProtocolNumber.tcp { return false }
        case .udp: if flow.ipProtocol != IPProtocolNumber.udp { return false }
        case .icmp:
            if flow.isIPv6 != isIPv6 || flow.ipProtocol != (isIPv6 ? IPProtocolNumber.icmp6 : IPProtocolNumber.icmp) { return false }
        case .any: if (sourcePorts != nil || destinationPorts != nil) && !carriesPorts { return false }
        }
        if let sourcePorts, !(carriesPorts && sourcePorts.contains(flow.sourcePort)) { return false }
        if let destinationPorts, !(carriesPorts && destinationPorts.contains(flow.destinationPort)) { return false }
        return true
    }
}

/// The header fields of one unfragmented IPv4 or IPv6 packet, and its Ethernet frame.
public struct Flow: Hashable, Sendable {
    public var source: [UInt8]
    public var destination: [UInt8]
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public init(source: [UInt8], destination: [UInt8], ipProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    public var isIPv6: Bool { source.count == 16 }

    public var frame: [UInt8] {
        let transport: [UInt8] = switch ipProtocol {
        case IPProtocolNumber.tcp: PacketBuilder.tcp(source: sourcePort, destination: destinationPort)
        case IPProtocolNumber.udp: PacketBuilder.udp(source: sourcePort, destination: destinationPort)
        case IPProtocolNumber.icmp6: PacketBuilder.icmp(type: 128)
        default: PacketBuilder.icmp(type: 8)
        }
        return isIPv6
            ? PacketBuilder.ethernet(type: IPProtocolNumber.ipv6EtherType,
                                     PacketBuilder.ipv6(source: source, destination: destination, nextHeader: ipProtocol, transport))
            : PacketBuilder.ethernet(type: IPProtocolNumber.ipv4EtherType,
                                     PacketBuilder.ipv4(source: source, destination: destination, protocol: ipProtocol, transport))
    }
}
