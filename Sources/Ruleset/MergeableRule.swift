/// Which rules can share a trie lookup with their neighbours (see `LookupGroup`), read from the
/// expression's syntax tree. Only forms whose meaning is certain are recognised; anything else
/// (names, masks, short dotted hosts, protocol qualifiers on addresses) stays a filter.

import FilterLanguage
import EBPF

enum MergeableRule {
    /// The lookup an expression amounts to, or nil when it is not one of the merged shapes:
    /// `[src|dst|src or dst] (host ADDR | net ADDR/LEN)` and
    /// `(src|dst) (host ADDR | net ADDR/LEN) and (tcp|udp) (src|dst) port NUMBER` (either order).
    static func match(_ expression: FilterExpression) -> LookupMatch? {
        if let (prefix, sides) = address(expression) { return .address(prefix, sides: sides) }
        guard case let .and(left, right) = expression else { return nil }
        for (first, second) in [(left, right), (right, left)] {
            guard let (prefix, sides) = address(first), sides.count == 1, let side = sides.first,
                  let (transport, port, portSide) = self.port(second) else { continue }
            return .addressAndPort(prefix, addressSide: side, transport: transport, port: port, portSide: portSide)
        }
        return nil
    }

    private static func address(_ expression: FilterExpression) -> (AddressPrefix, Set<PacketSide>)? {
        guard case let .qualified(qualifiers, identifier, _, _) = expression, qualifiers.proto == nil else { return nil }
        let sides: Set<PacketSide>
        switch qualifiers.direction {
        case nil, .sourceOrDestination?: sides = [.source, .destination]
        case .source?: sides = [.source]
        case .destination?: sides = [.destination]
        default: return nil
        }
        switch (qualifiers.type, identifier) {
        case (nil, let .dotted(text)), (.host?, let .dotted(text)):
            guard let bytes = dottedQuad(text), bytes.count == 4 else { return nil }
            return AddressPrefix(bytes: bytes, length: 32).map { ($0, sides) }
        case (nil, let .ipv6(text)), (.host?, let .ipv6(text)):
            return ipv6(text).flatMap { AddressPrefix(bytes: $0, length: 128) }.map { ($0, sides) }
        case let (.net?, .prefix(text, length)):
            let bytes: [UInt8]
            if let v4 = dottedQuad(text) {
                bytes = v4 + [UInt8](repeating: 0, count: 4 - v4.count)   // `10/8` is 10.0.0.0/8
            } else if let v6 = ipv6(text) {
                bytes = v6
            } else {
                return nil
            }
            // `net 0/0` loads no address at all: it stays a filter.
            guard length > 0 else { return nil }
            return AddressPrefix(bytes: bytes, length: Int(length)).map { ($0, sides) }
        default:
            return nil
        }
    }

    private static func port(_ expression: FilterExpression) -> (UInt8, UInt16, PacketSide)? {
        guard case let .qualified(qualifiers, .number(number), _, _) = expression, qualifiers.type == .port,
              let port = UInt16(exactly: number) else { return nil }
        let transport: UInt8
        switch qualifiers.proto {
        case .tcp?: transport = 6
        case .udp?: transport = 17
        default: return nil
        }
        switch qualifiers.direction {
        case .source?: return (transport, port, .source)
        case .destination?: return (transport, port, .destination)
        default: return nil
        }
    }

    /// One to four decimal parts of 0...255 without leading zeros; nil for anything else.
    static func dottedQuad(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  part == "0" || !part.hasPrefix("0"), let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// Eight groups of up to four hex digits, or fewer around one `::`; nil for anything else
    /// (including an embedded dotted IPv4 tail, which stays a filter).
    static func ipv6(_ text: String) -> [UInt8]? {
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var values: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), let value = UInt16(group, radix: 16) else { return nil }
                values.append(value)
            }
            return values
        }
        let halves = text.components(separatedBy: "::")
        let words: [UInt16]
        switch halves.count {
        case 1:
            guard let all = groups(Substring(text)), all.count == 8 else { return nil }
            words = all
        case 2:
            guard let head = groups(Substring(halves[0])), let tail = groups(Substring(halves[1])),
                  head.count + tail.count <= 7 else { return nil }
            words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
