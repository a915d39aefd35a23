import XCTest
import EBPF
import FilterLanguage
@testable import Ruleset

/// Which expressions rule merging takes over (the kernel tests check what they then mean).
final class MergeableRuleTests: XCTestCase {
    private func matches(_ text: String) throws -> [LookupMatch]? {
        MergeableRule.matches(try FilterParser.parse(text))
    }

    func testShapesThatMerge() throws {
        XCTAssertEqual(try matches("src host 192.0.2.7")?.count, 1)
        XCTAssertEqual(try matches("net 10.0.0.0/8")?.first?.kind, .address)
        XCTAssertEqual(try matches("dst net 2001:db8::/32")?.count, 1)
        XCTAssertEqual(try matches("src host 10.0.0.1 or 10.0.0.2 or 10.0.0.3")?.count, 3)
        XCTAssertEqual(try matches("src net 10.0.0.0/8 and tcp dst port 22")?.first?.kind,
                       .addressAndPort(addressSide: .source, portSide: .destination))
        XCTAssertEqual(try matches("udp src port 53 and dst host 10.0.0.1")?.first?.kind,
                       .addressAndPort(addressSide: .destination, portSide: .source))
        XCTAssertEqual(try matches("src net 10.0.0.0/8 and (tcp dst port 22 or 80)")?.count, 2)
        // libpcap's code for `net` with a whole address (or fewer dotted parts) is the prefix's.
        XCTAssertEqual(try matches("src net 192.0.2.7"), try matches("src net 192.0.2.7/32"))
        XCTAssertEqual(try matches("dst net 10.1"), try matches("dst net 10.1.0.0/16"))
        XCTAssertEqual(try matches("net 2001:db8::1"), try matches("net 2001:db8::1/128"))
    }

    func testShapesThatStayFilters() throws {
        for text in ["ip src host 10.0.0.1", "src host localhost", "net 10.0.0.0 mask 255.0.0.0", "net 0.0.0.0/0",
                     "src host 10.0.0.1 or dst host 10.0.0.2", "host 10.0.0.1 or 10.0.0.2", "src net 2001:db8::/32 or 2001:db9::/32",
                     "host 10.0.0.1 and tcp port 22", "src net 10.0.0.0/8 and port 22", "tcp port 80", "not src host 10.0.0.1"] {
            XCTAssertNil(try matches(text), text)
        }
    }

    func testAddressText() {
        XCTAssertEqual(MergeableRule.dottedQuad("10.1.2.3"), [10, 1, 2, 3])
        XCTAssertEqual(MergeableRule.dottedQuad("10"), [10])
        for bad in ["010.1.2.3", "256.1.1.1", "1..2", "1.2.3.4.5", "", "1.2.3.", "a.b"] {
            XCTAssertNil(MergeableRule.dottedQuad(bad), bad)
        }
        XCTAssertEqual(MergeableRule.ipv6("::1"), [UInt8](repeating: 0, count: 15) + [1])
        XCTAssertEqual(MergeableRule.ipv6("2001:db8::")?.prefix(4), [0x20, 0x01, 0x0d, 0xb8])
        XCTAssertEqual(MergeableRule.ipv6("1:2:3:4:5:6:7:8")?.last, 8)
        for bad in [":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::ffff:1.2.3.4"] {
            XCTAssertNil(MergeableRule.ipv6(bad), bad)
        }
    }
}
