/// The one parser of the address notations xdpfw reads: numbers in C notation, dotted IPv4
/// (one to four parts), IPv6 in all its textual forms, network prefixes, DECnet and Ethernet
/// addresses. It answers nil for text that is not an address; the caller says what the user
/// sees (`invalid IPv4 address '…'`, `bogus IPv6 address …`), so the words stay where they are.
public enum AddressText {
    /// How dotted decimal parts may be spelt.
    public enum DottedSpelling: Sendable {
        /// As libpcap reads an expression: any number of decimal digits, leading zeros allowed.
        case libpcap
        /// As the system's numeric parser (`inet_pton`) reads it: at most three digits and no
        /// leading zero. The rule merger takes only these, whose meaning is certain.
        case canonical
    }

    /// A number in C notation: decimal, 0x hex or 0 octal.
    public static func number(_ text: String) -> UInt32? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt32(text.dropFirst(2), radix: 16) }
        if text.count > 1 && text.hasPrefix("0") { return UInt32(text.dropFirst(), radix: 8) }
        return UInt32(text)
    }

    /// One to four dotted decimal parts of 0...255, in order; nil for anything else.
    public static func dottedBytes(_ text: String, spelling: DottedSpelling = .libpcap) -> [UInt8]? {
        var bytes: [UInt8] = []
        var value = 0, digits = 0, leadingZero = false
        func endPart() -> Bool {
            guard digits > 0, bytes.count < 4 else { return false }
            if spelling == .canonical, leadingZero && digits > 1 { return false }
            bytes.append(UInt8(value))
            value = 0; digits = 0; leadingZero = false
            return true
        }
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard endPart() else { return nil }
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard value <= 255, spelling == .libpcap || digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        return endPart() ? bytes : nil
    }

    /// Dotted decimal with one to four parts (libpcap's spelling): the value, right-aligned,
    /// and its bit count (`10.1` is 0x0a01 and 16).
    public static func ipv4(_ text: String) -> (UInt32, Int)? {
        dottedBytes(text).map { bytes in (bytes.reduce(0) { $0 << 8 | UInt32($1) }, bytes.count * 8) }
    }

    /// An IPv6 address in any of its textual forms: eight groups of up to four hex digits, or
    /// fewer around one `::`, and (unless `dottedTail` is nil) the last 32 bits written as a
    /// dotted IPv4 address spelt as `dottedTail` says. The 16 bytes in network order.
    public static func ipv6(_ text: String, dottedTail: DottedSpelling? = .libpcap) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        var text = Substring(text)
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let spelling = dottedTail,
                  let v4 = dottedBytes(String(text[text.index(after: lastColon)...]), spelling: spelling), v4.count == 4 else { return nil }
            tail = v4
            text = text[...lastColon]
            if text.dropLast().last != ":" { text = text.dropLast() }
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1 ... 4).contains(g.count), g.utf8.allSatisfy(isHexDigit), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let wanted = (16 - tail.count) / 2
        var words: [UInt16]
        if let gap = firstDoubleColon(text) {
            let after = text[text.index(gap, offsetBy: 2)...]
            guard let head = groups(text[..<gap]), let rest = groups(after),
                  firstDoubleColon(after) == nil, head.count + rest.count < wanted else { return nil }
            words = head + [UInt16](repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard let all = groups(text), all.count == wanted else { return nil }
            words = all
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } + tail
    }

    /// The address part of a network `ADDRESS/LENGTH` (or of `net ADDRESS`) in network order,
    /// as the rule merger and set entries read it: dotted IPv4 in the canonical spelling, the
    /// missing parts zero (`10/8` is 10.0.0.0/8), or IPv6 without a dotted tail.
    public static func networkBytes(_ text: String) -> [UInt8]? {
        if let v4 = dottedBytes(text, spelling: .canonical) { return v4 + [UInt8](repeating: 0, count: 4 - v4.count) }
        return ipv6(text, dottedTail: nil)
    }

    /// DECnet `area.node`: area in the top 6 bits, node in the low 10.
    public static func decnet(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let area = UInt32(parts[0]), let node = UInt32(parts[1]) else { return nil }
        return (area << 10) & 0xfc00 | node & 0x03ff
    }

    /// An Ethernet address: `a:b:c:d:e:f`, `a-b-c-d-e-f`, `a.b.c.d.e.f`, `aabb.ccdd.eeff` or 12 hex digits.
    public static func mac(_ text: String) -> [UInt8]? {
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

    private static func firstDoubleColon(_ text: Substring) -> Substring.Index? {
        text.indices.first { text[$0] == ":" && text.index(after: $0) < text.endIndex && text[text.index(after: $0)] == ":" }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }
}
