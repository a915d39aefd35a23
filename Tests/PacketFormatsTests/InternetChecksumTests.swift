import XCTest
import PacketFormats

/// The Internet checksum against RFC 1071's worked example, an odd length, and a filled header
/// summing to zero.
final class InternetChecksumTests: XCTestCase {
    func testRFC1071Example() {
        // RFC 1071, section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (end-around carry).
        XCTAssertEqual(InternetChecksum.of([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), ~UInt16(0xddf2))
        XCTAssertEqual(InternetChecksum.of([0x00, 0x01, 0xf2]), ~UInt16(0xf201))
    }

    func testFilledHeaderSumsToZero() {
        var header: [UInt8] = [0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        InternetChecksum.fill(&header, at: Protocols.IPv4.checksumField)
        XCTAssertNotEqual(header[10...11], [0, 0])
        XCTAssertEqual(InternetChecksum.of(header), 0)
    }
}
