import XCTest
import Glibc
import DifferentialTesting
import PacketFormats

/// The one address parser against the system's numeric parser (`inet_pton`), which reads the
/// canonical spelling the rule merger and the lexer's IPv6 check rely on.
final class AddressTextTests: XCTestCase {
    private func systemIPv4(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    private func systemIPv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// Texts shaped like addresses, and near misses: groups of hex digits, dots and colons.
    private func addressLikeTexts(count: Int, seed: UInt64) -> [String] {
        var random = SeededRandom(seed: seed)
        let pieces = ["0", "1", "9", "00", "01", "10", "25", "255", "256", "0255", "ff", "FFFF", "12345", "db8", "g",
                      ":", "::", ".", "1.2.3.4", "01.2.3.4", "192.0.2.300", "ffff:", ":1"]
        return (0..<count).map { _ in (0..<random.next(9)).map { _ in pieces[random.next(pieces.count)] }.joined() }
    }

    private let samples = ["::", "::1", "1::", "2001:db8::", "2001:DB8:0:0:8:800:200C:417A", "1:2:3:4:5:6:7:8",
                           "1:2:3:4:5:6:7:8:9", ":::", "1::2::3", "12345::", "1::2:3:4:5:6:7", "1:2:3:4::5:6:7:8",
                           "::ffff:192.0.2.1", "::ffff:192.0.2.01", "::192.0.2.1", "1:2:3:4:5:6:1.2.3.4", "::1.2.3",
                           "::1.2.3.4:5", ":1::", "1:2:3:4:5:6:7:", "10.1.2.3", "0.0.0.0", "255.255.255.255",
                           "256.1.1.1", "010.1.2.3", "1..2", "1.2.3.4.5", "", "1.2.3.", "a.b", "0x1.2.3.4"]

    func testIPv6AsTheSystemReadsIt() {
        for text in samples + addressLikeTexts(count: 20_000, seed: 6) {
            XCTAssertEqual(AddressText.ipv6(text, dottedTail: .canonical), systemIPv6(text), text)
        }
    }

    /// Without a dotted tail the merger's reading: the system's, minus addresses written with one.
    func testIPv6WithoutDottedTail() {
        for text in samples + addressLikeTexts(count: 5_000, seed: 7) {
            let expected = text.split(separator: ":").last?.contains(".") == true ? nil : systemIPv6(text)
            XCTAssertEqual(AddressText.ipv6(text, dottedTail: nil), expected, text)
        }
    }

    func testCanonicalDottedQuadAsTheSystemReadsIt() {
        for text in samples + addressLikeTexts(count: 20_000, seed: 4) {
            let ours = AddressText.dottedBytes(text, spelling: .canonical).flatMap { $0.count == 4 ? $0 : nil }
            XCTAssertEqual(ours, systemIPv4(text), text)
        }
    }

    /// libpcap's spelling takes leading zeros and longer runs of digits as decimal; the
    /// canonical one refuses them. (libpcap's own reading is checked end to end by the
    /// compiler's differential tests over the corpus.)
    func testSpellingsDifferOnlyInDigits() {
        for text in samples + addressLikeTexts(count: 5_000, seed: 5) {
            guard let canonical = AddressText.dottedBytes(text, spelling: .canonical) else { continue }
            XCTAssertEqual(AddressText.dottedBytes(text, spelling: .libpcap), canonical, text)
        }
        XCTAssertEqual(AddressText.dottedBytes("010.1.0002", spelling: .libpcap), AddressText.dottedBytes("10.1.2", spelling: .canonical))
        XCTAssertNil(AddressText.dottedBytes("010.1.0002", spelling: .canonical))
        XCTAssertEqual(AddressText.ipv4("10.1")?.0, AddressText.ipv4("0.0.10.1")?.0)
        XCTAssertEqual(AddressText.ipv4("10.1")?.1, 16)
    }

    /// `net 10/8` and set entries: missing parts are zero bytes, IPv6 has no dotted tail.
    func testNetworkBytes() {
        XCTAssertEqual(AddressText.networkBytes("10"), systemIPv4("10.0.0.0"))
        XCTAssertEqual(AddressText.networkBytes("192.168"), systemIPv4("192.168.0.0"))
        XCTAssertEqual(AddressText.networkBytes("2001:db8::"), systemIPv6("2001:db8::"))
        XCTAssertNil(AddressText.networkBytes("::ffff:10.0.0.0"))
        XCTAssertNil(AddressText.networkBytes("010.0"))
    }

    /// The notations libpcap reads (moved from the name service's tests).
    func testAddressNotations() {
        XCTAssertEqual(AddressText.ipv4("10.1")?.0, 0x0a01)
        XCTAssertEqual(AddressText.ipv4("10.1")?.1, 16)
        XCTAssertNil(AddressText.ipv4("1.2.3.256"))
        XCTAssertNil(AddressText.ipv4("1.2.3.4.5"))
        XCTAssertEqual(AddressText.ipv6("::ffff:1.2.3.4"), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4])
        XCTAssertEqual(AddressText.ipv6("fe80::1")?.first, 0xfe)
        XCTAssertEqual(AddressText.ipv6("1:2:3:4:5:6:7:8")?.last, 8)
        XCTAssertEqual(AddressText.mac("0011.2233.4455"), [0, 0x11, 0x22, 0x33, 0x44, 0x55])
        XCTAssertEqual(AddressText.mac("a-b-c-d-e-f"), [0xa, 0xb, 0xc, 0xd, 0xe, 0xf])
        XCTAssertEqual(AddressText.decnet("50.764"), 50 << 10 | 764)
        // Malformed text is refused, never a crash.
        for text in [":", "::", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "::1.2.3", "1.2.3.4::", "g::1", "", "::ffff:1.2.3.4.5", ":1", "1:"] {
            _ = AddressText.ipv6(text)
        }
        XCTAssertNotNil(AddressText.ipv6("::"))
        XCTAssertNil(AddressText.ipv6("1::2::3"))
        XCTAssertNil(AddressText.ipv6("1:2:3:4:5:6:7:8:9"))
        for text in ["", ".", "1.2.3", "0:1:2:3:4", "001122334455667", "zz:zz:zz:zz:zz:zz"] {
            XCTAssertNil(AddressText.mac(text), text)
        }
    }
}
