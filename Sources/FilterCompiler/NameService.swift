import Foundation

/// Where the compiler looks up names: services, protocols, networks, hosts and Ethernet hosts.
/// The default reads the system's files; the command line injects one that also asks the
/// system resolver for host names.
public protocol NameService: Sendable {
    /// The port of a service for "tcp" or "udp" (/etc/services).
    func port(_ name: String, protocol: String) -> UInt32?
    /// An IP protocol number by name (/etc/protocols).
    func ipProtocol(_ name: String) -> UInt32?
    /// A network number by name (/etc/networks), as written there (`10` is 0x0000000a).
    func network(_ name: String) -> UInt32?
    /// The addresses of a host, in the order they should be tested.
    func hostAddresses(_ name: String) -> [HostAddress]
    /// An Ethernet address by host name (/etc/ethers).
    func etherHost(_ name: String) -> [UInt8]?
}

public enum HostAddress: Hashable, Sendable {
    case ipv4(UInt32)
    case ipv6([UInt8])
}

/// Parsing of the address notations expressions use.
enum AddressText {
    /// A number in C notation: decimal, 0x hex or 0 octal.
    static func number(_ text: String) -> UInt32? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt32(text.dropFirst(2), radix: 16) }
        if text.count > 1 && text.hasPrefix("0") { return UInt32(text.dropFirst(), radix: 8) }
        return UInt32(text)
    }

    /// Dotted decimal with one to four parts: the value, right-aligned, and its bit count.
    static func ipv4(_ text: String) -> (UInt32, Int)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1 ... 4).contains(parts.count) else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let n = UInt32(part), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return (value, parts.count * 8)
    }

    /// DECnet `area.node`: area in the top 6 bits, node in the low 10.
    static func decnet(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let area = UInt32(parts[0]), let node = UInt32(parts[1]) else { return nil }
        return (area << 10) & 0xfc00 | node & 0x03ff
    }

    /// An IPv6 address in any of its textual forms, including an embedded IPv4 tail.
    static func ipv6(_ text: String) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        var text = Substring(text)
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let (v4, bits) = ipv4(String(text[text.index(after: lastColon)...])), bits == 32 else { return nil }
            tail = [UInt8(v4 >> 24), UInt8(v4 >> 16 & 0xff), UInt8(v4 >> 8 & 0xff), UInt8(v4 & 0xff)]
            text = text[...lastColon]
            if text.hasSuffix("::") { } else { text = text.dropLast() }
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1 ... 4).contains(g.count), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let wanted = (16 - tail.count) / 2
        var words: [UInt16]
        if let range = text.range(of: "::") {
            guard let head = groups(text[..<range.lowerBound]), let rest = groups(text[range.upperBound...]),
                  !text[range.upperBound...].contains("::"), head.count + rest.count < wanted else { return nil }
            words = head + [UInt16](repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard let all = groups(text), all.count == wanted else { return nil }
            words = all
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } + tail
    }

    /// An Ethernet address: `a:b:c:d:e:f`, `a-b-c-d-e-f`, `a.b.c.d.e.f`, `aabb.ccdd.eeff` or 12 hex digits.
    static func mac(_ text: String) -> [UInt8]? {
        let separators: Set<Character> = [":", "-", "."]
        let parts = text.split(whereSeparator: { separators.contains($0) }).map(String.init)
        var bytes: [UInt8] = []
        if parts.count == 6 {
            for p in parts {
                guard (1 ... 2).contains(p.count), let b = UInt8(p, radix: 16) else { return nil }
                bytes.append(b)
            }
        } else if parts.count == 3 || parts.count == 1 {
            let digits = parts.joined()
            guard digits.count == 12, parts.allSatisfy({ $0.count == 12 / parts.count }) else { return nil }
            var i = digits.startIndex
            while i < digits.endIndex {
                let j = digits.index(i, offsetBy: 2)
                guard let b = UInt8(digits[i ..< j], radix: 16) else { return nil }
                bytes.append(b)
                i = j
            }
        } else {
            return nil
        }
        return bytes
    }
}
