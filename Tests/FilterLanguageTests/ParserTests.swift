import XCTest
@testable import FilterLanguage

/// Trees and diagnostics for a few expressions. How expressions group is checked against libpcap
/// in ShapeTests; these pin down what the tree records (identifiers, ranges, carried qualifiers).
final class ParserTests: XCTestCase {
    func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> FilterExpression? {
        do { return try FilterParser.parse(text) } catch {
            XCTFail("'\(text)': \(error.rendered(source: text))", file: file, line: line)
            return nil
        }
    }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> FilterError? {
        do {
            let tree = try FilterParser.parse(text)
            XCTFail("'\(text)' parsed as \(tree)", file: file, line: line)
            return nil
        } catch { return error }
    }

    func testEmpty() {
        XCTAssertEqual(parse(""), .empty)
        XCTAssertEqual(parse(" \t\n "), .empty)
    }

    func testCarriedQualifiersAreMarked() {
        let host = Qualifiers(type: .host)
        XCTAssertEqual(parse("host 1.1.1.1 or 2.2.2.2"), .or(
            .qualified(host, .dotted("1.1.1.1"), inherited: false, SourceRange(0, 12)),
            .qualified(host, .dotted("2.2.2.2"), inherited: true, SourceRange(16, 23))))
        let tcpPort = Qualifiers(proto: .tcp, type: .port)
        XCTAssertEqual(parse("tcp port 80 or not 443"), .or(
            .qualified(tcpPort, .number(80), inherited: false, SourceRange(0, 11)),
            .not(.qualified(tcpPort, .number(443), inherited: true, SourceRange(19, 22)), SourceRange(15, 22))))
    }

    func testIdentifiers() {
        func operand(_ text: String) -> Identifier? {
            guard case let .qualified(_, id, _, _)? = parse(text) else { return nil }
            return id
        }
        XCTAssertEqual(operand("ip proto \\tcp"), .name("tcp"))
        XCTAssertEqual(operand("port ftp-data"), .name("ftp-data"))
        XCTAssertEqual(operand("portrange 1-1024"), .name("1-1024"))
        XCTAssertEqual(operand("port 0x1f"), .number(31))
        XCTAssertEqual(operand("port 017"), .number(15))
        XCTAssertEqual(operand("net 10.0/8"), .prefix("10.0", length: 8))
        XCTAssertEqual(operand("net 10.0.0.0 mask 255.0.0.0"), .masked("10.0.0.0", mask: "255.0.0.0"))
        XCTAssertEqual(operand("net fe80::/64"), .prefix("fe80::", length: 64))
        XCTAssertEqual(operand("host ::1"), .ipv6("::1"))
        XCTAssertEqual(operand("ether host abcd.ef00.0003"), .mac("abcd.ef00.0003"))
        XCTAssertEqual(operand("ether host ab-cd-ef-00-00-02"), .mac("ab-cd-ef-00-00-02"))
        XCTAssertEqual(operand("ether host abcdef000003"), .mac("abcdef000003"))
        XCTAssertEqual(operand("host host.invalid."), .name("host.invalid."))
    }

    func testNamedConstantsAreNumbers() {
        guard case let .comparison(_, .load(.icmp, .constant(offset, _), 1, _), .constant(value, _), _)? =
                parse("icmp[icmptype] = icmp-timxceed") else { return XCTFail("not a comparison") }
        XCTAssertEqual(offset, 0)
        XCTAssertEqual(value, 11)
        guard case let .comparison(_, _, .constant(flags, _), _)? = parse("tcp[tcpflags] = tcp-cwr") else { return XCTFail() }
        XCTAssertEqual(flags, 0x80)
    }

    func testSpecialPrimitives() {
        XCTAssertEqual(parse("vlan (100)"), .special(.encapsulation(.vlan, 100), SourceRange(0, 10)))
        XCTAssertEqual(parse("pppoed"), .special(.pppoeDiscovery, SourceRange(0, 6)))
        XCTAssertEqual(parse("llc rnr"), .special(.llc("rnr"), SourceRange(0, 7)))
        XCTAssertEqual(parse("ip6 multicast"), .special(.multicast(.ip6), SourceRange(0, 13)))
        XCTAssertEqual(parse("type mgt"), .special(.unsupported("type"), SourceRange(0, 8)))
    }

    func testEveryRangeLiesInTheText() throws {
        let rows = try Oracle.corpus("accept-en10mb.tsv")
        for text in rows.map({ $0.count > 1 ? $0[1] : "" }) + ShapeTests.curated {
            guard let tree = try? FilterParser.parse(text) else { continue }
            for range in Self.ranges(tree) {
                XCTAssert(range.start >= 0 && range.start < range.end && range.end <= text.utf8.count, "'\(text)': \(range)")
            }
        }
    }

    static func ranges(_ e: FilterExpression) -> [SourceRange] {
        switch e {
        case .empty: return []
        case let .and(a, b), let .or(a, b): return ranges(a) + ranges(b)
        case let .not(a, r): return [r] + ranges(a)
        case let .qualified(_, _, _, r), let .proto(_, r), let .special(_, r): return [r]
        case let .comparison(_, a, b, r): return [r] + ranges(a) + ranges(b)
        }
    }

    static func ranges(_ a: ArithmeticExpression) -> [SourceRange] {
        switch a {
        case let .constant(_, r), let .length(r): return [r]
        case let .load(_, index, _, r): return [r] + ranges(index)
        case let .binary(_, x, y, r): return [r] + ranges(x) + ranges(y)
        case let .negate(x, r): return [r] + ranges(x)
        }
    }

    // MARK: Diagnostics

    func testSyntaxErrorNamesAndPointsAtTheToken() {
        let text = "tcp and and udp"
        guard let e = error(text) else { return }
        XCTAssertEqual(e.message, "syntax error: unexpected 'and'")
        XCTAssertEqual(e.range, SourceRange(8, 11))
        XCTAssertEqual(e.rendered(source: text), "syntax error: unexpected 'and'\ntcp and and udp\n        ^~~")
        XCTAssertEqual(e.location(in: text).column, 9)
    }

    func testEndOfInputPointsPastTheEnd() {
        let text = "tcp and"
        guard let e = error(text) else { return }
        XCTAssertEqual(e.message, "syntax error: unexpected end of expression")
        XCTAssertEqual(e.range, SourceRange(7, 8))
        XCTAssertEqual(e.rendered(source: text), "syntax error: unexpected end of expression\ntcp and\n       ^")
    }

    func testScannerErrorsUseLibpcapsWords() {
        XCTAssertEqual(error("len = 08")?.message, "number 08 contains non-octal digit")
        XCTAssertEqual(error("len = 08")?.range, SourceRange(6, 8))
        XCTAssertEqual(error("len = 4294967296")?.message, "number 4294967296 overflows 32 bits")
        XCTAssertEqual(error("ether host ab:cd:ef:0g:00:00")?.message, "bogus ethernet address ab:cd:ef:")
        XCTAssertEqual(error("host 1::1.2.3.256")?.message, "bogus IPv6 address 1::1.2.3.256")
        XCTAssertEqual(error("ip[1:3] = 1")?.message, "data size must be 1, 2, or 4")
        XCTAssertEqual(error("host $1")?.message, "aid supported only on ARCnet")
        XCTAssertEqual(error("host 1.1.1.1 ü")?.message, "syntax error: unexpected 'ü'")
    }

    func testReservedWordWhereANameGoesGetsAHint() {
        XCTAssertEqual(error("ip proto tcp")?.message, "syntax error: unexpected 'tcp' (a reserved word; write '\\tcp' for the name tcp)")
        XCTAssertEqual(error("src proto 1")?.message, "syntax error: unexpected 'proto'")
    }

    func testMissingQualifierSaysSo() {
        guard let e = error("tcp and 1.1.1.1") else { return }
        XCTAssert(e.message.hasPrefix("syntax error in filter expression"), e.message)
        XCTAssertEqual(e.range, SourceRange(8, 15))
    }

    func testRenderingPicksTheLineAndKeepsTabs() {
        let text = "tcp or\n\tudp and )"
        guard let e = error(text) else { return }
        XCTAssertEqual(e.rendered(source: text), "syntax error: unexpected ')'\n\tudp and )\n\t        ^")
        XCTAssertEqual(e.location(in: text).line, 2)
        XCTAssertEqual(e.location(in: text).column, 10)
    }
}
