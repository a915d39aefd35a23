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

    /// Port rules: one match per protocol (`port N` is tcp, udp or sctp), the sides libpcap
    /// tests; an `or` only with one protocol and direction.
    func testPortShapes() throws {
        XCTAssertEqual(try matches("tcp dst port 22"), [.port(transport: 6, port: 22, sides: [.destination])])
        XCTAssertEqual(try matches("udp src port 53"), [.port(transport: 17, port: 53, sides: [.source])])
        XCTAssertEqual(try matches("sctp port 9"), [.port(transport: 132, port: 9, sides: [.source, .destination])])
        XCTAssertEqual(try matches("port 53"), [6, 17, 132].map { .port(transport: $0, port: 53, sides: [.source, .destination]) })
        XCTAssertEqual(try matches("tcp src or dst port 80"), try matches("tcp port 80"))
        XCTAssertEqual(try matches("tcp dst port 80 or 443")?.count, 2)
        XCTAssertEqual(try matches("tcp dst port 80")?.first?.kind, .port)
    }

    /// A contiguous mask is a prefix length (libpcap's code for both is the same).
    func testMaskedNetsAreTheirPrefixes() throws {
        XCTAssertEqual(try matches("src net 10.0.0.0 mask 255.0.0.0"), try matches("src net 10.0.0.0/8"))
        XCTAssertEqual(try matches("net 192.0.2.128 mask 255.255.255.128"), try matches("net 192.0.2.128/25"))
        XCTAssertNil(try matches("net 10.0.0.1 mask 255.0.0.0"), "bits outside the mask: libpcap's error, not a lookup")
    }

    func testShapesThatStayFilters() throws {
        for text in ["ip src host 10.0.0.1", "src host localhost", "net 10.0.0.0 mask 255.0.255.0", "net 0.0.0.0/0",
                     "src host 10.0.0.1 or dst host 10.0.0.2", "host 10.0.0.1 or 10.0.0.2", "src net 2001:db8::/32 or 2001:db9::/32",
                     "host 10.0.0.1 and tcp port 22", "src net 10.0.0.0/8 and port 22", "not src host 10.0.0.1",
                     "tcp src and dst port 80", "icmp port 80", "tcp port 80 or udp port 53", "tcp src port 1 or tcp dst port 2",
                     "tcp portrange 1-2", "tcp port http"] {
            XCTAssertNil(try matches(text), text)
        }
    }
}
