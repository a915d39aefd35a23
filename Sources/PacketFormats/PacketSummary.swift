/// A one-line description of an Ethernet frame in the style of tcpdump's default output
/// (`IP 10.0.0.1.40000 > 10.0.0.2.9: UDP, length 18`), for the drop log. It reads only the
/// headers most traffic has (802.1Q tags, IPv4, IPv6, ARP, TCP, UDP, ICMP, ICMPv6) from the
/// bytes there are; anything else is named by its ethertype or IP protocol.
public enum PacketSummary {
    public static func describe(_ frame: [UInt8], wireLength: Int) -> String {
        let header = Int(Protocols.Ethernet.headerLength)
        guard frame.count >= header else { return "[|ether], length \(wireLength)" }
        var offset = Int(Protocols.Ethernet.typeField)
        var type = UInt32(word16(frame, offset)!)
        var prefix = ""
        while Protocols.EtherType.vlanTags.contains(type), let tci = word16(frame, offset + 2), let inner = word16(frame, offset + 4) {
            prefix += "vlan \(UInt32(tci) & Protocols.VLAN.maximumID), "
            offset += Int(Protocols.VLAN.tagLength)
            type = UInt32(inner)
        }
        let network = offset + 2
        let payload = wireLength - network
        switch type {
        case Protocols.EtherType.ip: return prefix + ipv4(frame, at: network)
        case Protocols.EtherType.ip6: return prefix + ipv6(frame, at: network)
        case Protocols.EtherType.arp: return prefix + arp(frame, at: network, length: payload)
        case ..<Protocols.Ethernet.minimumEtherType: return prefix + "802.3, length \(wireLength)"
        default: return prefix + "ethertype 0x\(hex(type, digits: 4)), length \(wireLength)"
        }
    }

    private static func ipv4(_ frame: [UInt8], at start: Int) -> String {
        guard frame.count >= start + 20 else { return "IP [|ip]" }
        let headerLength = Int(frame[start] & 0x0f) * 4
        let total = Int(word16(frame, start + 2)!)
        let source = frame[start + 12 ..< start + 16].map(String.init).joined(separator: ".")
        let destination = frame[start + 16 ..< start + 20].map(String.init).joined(separator: ".")
        let fragment = word16(frame, start + 6)! & UInt16(Protocols.IPv4.fragmentOffsetMask)
        let proto = UInt32(frame[start + 9])
        if fragment != 0 {
            return "IP \(source) > \(destination): ip-proto-\(proto) fragment, length \(total - headerLength)"
        }
        return transport(frame, at: start + headerLength, protocol: proto, length: total - headerLength,
                         family: "IP", source: source, destination: destination)
    }

    private static func ipv6(_ frame: [UInt8], at start: Int) -> String {
        guard frame.count >= start + 40 else { return "IP6 [|ip6]" }
        let length = Int(word16(frame, start + 4)!)
        return transport(frame, at: start + 40, protocol: UInt32(frame[start + 6]), length: length, family: "IP6",
                         source: ipv6Text(Array(frame[start + 8 ..< start + 24])),
                         destination: ipv6Text(Array(frame[start + 24 ..< start + 40])))
    }

    private static func transport(_ frame: [UInt8], at start: Int, protocol proto: UInt32, length: Int,
                                  family: String, source: String, destination: String) -> String {
        let ports = word16(frame, start).flatMap { from in word16(frame, start + 2).map { (from, $0) } }
        switch proto {
        case Protocols.IPProtocol.udp:
            guard let (from, to) = ports else { return "\(family) \(source) > \(destination): [|udp]" }
            return "\(family) \(source).\(from) > \(destination).\(to): UDP, length \(max(length - 8, 0))"
        case Protocols.IPProtocol.tcp:
            guard let (from, to) = ports, frame.count > start + 13 else { return "\(family) \(source) > \(destination): [|tcp]" }
            let flags = frame[start + 13]
            let names: [(UInt8, String)] = [(0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x20, "U"), (0x40, "E"), (0x80, "W")]
            var text = names.filter { flags & $0.0 != 0 }.map(\.1).joined() + (flags & 0x10 != 0 ? "." : "")
            if text.isEmpty { text = "none" }
            let headerLength = Int(frame[start + 12] >> 4) * 4
            return "\(family) \(source).\(from) > \(destination).\(to): Flags [\(text)], length \(max(length - headerLength, 0))"
        case Protocols.IPProtocol.icmp:
            guard frame.count > start + 1 else { return "\(family) \(source) > \(destination): [|icmp]" }
            let names: [UInt8: String] = [0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded"]
            var echo = ""
            if frame[start] == 0 || frame[start] == 8, let id = word16(frame, start + 4), let sequence = word16(frame, start + 6) {
                echo = ", id \(id), seq \(sequence)"
            }
            return "\(family) \(source) > \(destination): ICMP \(names[frame[start]] ?? "type \(frame[start])")\(echo), length \(length)"
        case Protocols.IPProtocol.icmp6:
            guard frame.count > start + 1 else { return "\(family) \(source) > \(destination): [|icmp6]" }
            let names: [UInt8: String] = [128: "echo request", 129: "echo reply", 133: "router solicitation",
                                          134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement"]
            return "\(family) \(source) > \(destination): ICMP6, \(names[frame[start]] ?? "type \(frame[start])"), length \(length)"
        default:
            return "\(family) \(source) > \(destination): ip-proto-\(proto) \(length)"
        }
    }

    private static func arp(_ frame: [UInt8], at start: Int, length: Int) -> String {
        guard frame.count >= start + 28 else { return "ARP, [|arp]" }
        let sender = frame[start + 14 ..< start + 18].map(String.init).joined(separator: ".")
        let target = frame[start + 24 ..< start + 28].map(String.init).joined(separator: ".")
        switch word16(frame, start + 6) {
        case 1: return "ARP, Request who-has \(target) tell \(sender), length \(length)"
        case 2: return "ARP, Reply \(sender) is-at \(frame[start + 8 ..< start + 14].map { hex(UInt32($0), digits: 2) }.joined(separator: ":")), length \(length)"
        default: return "ARP, length \(length)"
        }
    }

    /// RFC 5952 text: lower-case hex, the longest run of two or more zero groups as `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 1), run = (start: -1, length: 0)
        for (index, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return text.joined(separator: ":") }
        return text[..<best.start].joined(separator: ":") + "::" + text[(best.start + best.length)...].joined(separator: ":")
    }

    private static func word16(_ frame: [UInt8], _ at: Int) -> UInt16? {
        at >= 0 && frame.count >= at + 2 ? UInt16(frame[at]) << 8 | UInt16(frame[at + 1]) : nil
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(digits - text.count, 0)) + text
    }
}
