import Foundation
import XCTest
@testable import FilterLanguage

/// Our tree, printed back with every grouping parenthesised and every carried qualifier written
/// out, must compile (unoptimised) to exactly the code libpcap makes of the original text: then
/// precedence, grouping and qualifier carry-over are libpcap's.
final class ShapeTests: XCTestCase {
    static let curated = [
        "len - 1 & 2 = 0", "len % 3 + 2 = 0", "len * 3 % 2 = 0", "-len % 2 = 0", "-len ^ 2 = 0",
        "len + 3 ^ 2 = 0", "len ^ 3 & 2 = 0", "len | 3 & 2 << 1 + 4 * 5 = 0", "len << 1 >> 2 = 0",
        "len / 2 / 3 = 1 - 2 - 3", "- - len = - 1", "ip[1 + 2 : 2] * 3 = tcp[4] & 5",
        "host 1.1.1.1 or 2.2.2.2 and tcp", "tcp or udp and icmp", "not tcp and udp", "not tcp or not udp",
        "host 1.1.1.1 or 2.2.2.2", "not host 1.1.1.1 and 2.2.2.2", "tcp port 80 or 443 and 8080",
        "host 1.1.1.1 and not 2.2.2.2 or 3.3.3.3", "port 1 and (tcp) and 2", "port 1 and (tcp or udp) or 2",
        "src host 1.1.1.1 and (2.2.2.2 or not 3.3.3.3)", "ip src or dst net 10.0/16 or 192.168.0.0 mask 255.255.0.0",
        "ether src 0:1:2:3:4:5 or 00-11-22-33-44-55", "tcp dst portrange 1-1024 or 2000",
        "ip6 net ::1/128 or fe80::/64", "port 53 and (1 or (2) or not 3)", "vlan 10 and host 1.1.1.1 or 2.2.2.2",
        "len > 100 and less 200 or greater 50", "ip proto \\tcp or 17", "ether proto \\ip or \\arp",
        "icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply",
        "tcp[tcpflags] & (tcp-syn | tcp-ack) = tcp-syn",
        "byte 5 & 3 or byte 5 | 3 and byte 1 < 2 or byte 3 > 4 and byte 6 == 7",
    ]

    func testCuratedShapesMatchLibpcap() throws {
        try compareShapes(Self.curated, allowSkips: false)
    }

    func testRandomShapesMatchLibpcap() throws {
        let count = ProcessInfo.processInfo.environment["ORACLE_FUZZ_COUNT"].flatMap { Int($0) } ?? 400
        var generator = RandomExpressions(seed: 5)
        try compareShapes((0..<count).map { _ in generator.shaped() }, allowSkips: true)
    }

    func compareShapes(_ expressions: [String], allowSkips: Bool) throws {
        var mismatches: [String] = []
        var compared = 0
        for expression in expressions {
            guard case let .success(tree) = ourVerdict(expression), let printed = Canonical.text(tree) else {
                if !allowSkips { mismatches.append("'\(expression)': we do not parse or cannot print it") }
                continue
            }
            guard let original = try Oracle.unoptimized(expression) else {
                if !allowSkips { mismatches.append("'\(expression)': libpcap rejects it") }
                continue
            }
            compared += 1
            let ours = try Oracle.unoptimized(printed)
            if ours != original {
                mismatches.append("'\(expression)' read as '\(printed)': libpcap compiles them differently")
            }
        }
        XCTAssert(mismatches.isEmpty, mismatches.joined(separator: "\n"))
        XCTAssertGreaterThan(compared, allowSkips ? 10 : expressions.count - 1)
        print("compared \(compared) of \(expressions.count) expressions with libpcap")
    }
}

/// Prints a tree back as pcap-filter text with all grouping explicit. nil for primitives kept
/// only by keyword.
enum Canonical {
    static func text(_ e: FilterExpression) -> String? {
        switch e {
        case .empty: return ""
        case let .and(a, b): return binary(a, "and", b)
        case let .or(a, b): return binary(a, "or", b)
        case let .not(a, _): return text(a).map { "not (\($0))" }
        case let .qualified(q, id, _, _):
            let words = [q.proto?.rawValue, q.direction?.rawValue, q.type?.rawValue].compactMap { $0 }
            return (words + [identifier(id)]).joined(separator: " ")
        case let .proto(p, _): return p.rawValue
        case let .comparison(op, l, r, _): return "(\(arithmetic(l))) \(op.rawValue) (\(arithmetic(r)))"
        case let .special(s, _): return special(s)
        }
    }

    static func binary(_ a: FilterExpression, _ op: String, _ b: FilterExpression) -> String? {
        guard let a = text(a), let b = text(b) else { return nil }
        return "(\(a)) \(op) (\(b))"
    }

    static func identifier(_ id: Identifier) -> String {
        switch id {
        case let .number(n): return "\(n)"
        case let .dotted(s), let .ipv6(s), let .mac(s): return s
        case let .name(s): return "\\" + s
        case let .prefix(s, length): return "\(s)/\(length)"
        case let .masked(s, mask): return "\(s) mask \(mask)"
        }
    }

    static func arithmetic(_ a: ArithmeticExpression) -> String {
        switch a {
        case let .constant(n, _): return "\(n)"
        case .length: return "len"
        case let .load(p, index, size, _): return "\(p.rawValue)[\(arithmetic(index)) : \(size)]"
        case let .binary(op, l, r, _): return "(\(arithmetic(l))) \(op.rawValue) (\(arithmetic(r)))"
        case let .negate(x, _): return "-(\(arithmetic(x)))"
        }
    }

    static func special(_ s: SpecialPrimitive) -> String? {
        switch s {
        case let .broadcast(p): return [p?.rawValue, "broadcast"].compactMap { $0 }.joined(separator: " ")
        case let .multicast(p): return [p?.rawValue, "multicast"].compactMap { $0 }.joined(separator: " ")
        case let .less(n): return "less \(n)"
        case let .greater(n): return "greater \(n)"
        case let .encapsulation(k, n): return [k.rawValue, n.map { "\($0)" }].compactMap { $0 }.joined(separator: " ")
        case .pppoeDiscovery: return "pppoed"
        case let .llc(sub): return ["llc", sub].compactMap { $0 }.joined(separator: " ")
        case .inbound: return "inbound"
        case .outbound: return "outbound"
        case let .interfaceIndex(n): return "ifindex \(n)"
        case let .byte(offset, op, value): return "byte \(offset) \(op.rawValue) \(value)"
        case .unsupported: return nil
        }
    }
}

/// `testsVLANTags` finds the `vlan` keyword at any depth, and nothing else.
final class VLANKeywordTests: XCTestCase {
    func testFindsVLANAtAnyDepth() throws {
        for (text, expected) in [("vlan", true), ("vlan 10 and udp", true), ("tcp or not (udp and vlan 3)", true),
                                 ("ether[12:2] = 0x8100", false), ("mpls and udp", false), ("host 10.0.0.1", false)] {
            XCTAssertEqual(try FilterParser.parse(text).testsVLANTags, expected, text)
        }
    }
}
