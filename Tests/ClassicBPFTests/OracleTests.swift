import DifferentialTesting
import Kernel
import XCTest

/// The libpcap wrappers the other tests lean on.
final class OracleTests: XCTestCase {
    func testRejectedExpressionsGiveLibpcapsMessages() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        XCTAssertGreaterThan(Corpus.rejectedExpressions.count, 40)
        for rejection in Corpus.rejectedExpressions {
            switch Libpcap.compile(rejection.text, optimize: true) {
            case .success: XCTFail("libpcap accepts '\(rejection.text)'")
            case let .failure(error):
                XCTAssert(error.message.hasPrefix(rejection.error) || rejection.error.hasPrefix(error.message),
                          "'\(rejection.text)': \(error.message) vs \(rejection.error)")
            }
        }
    }

    func testEveryCorpusCaptureReads() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let (packets, notes) = Corpus.captures
        for note in notes { print("corpus capture: \(note)") }
        XCTAssertGreaterThan(packets.count, 1000)
        XCTAssert(packets.contains { $0.packet.bytes.count < Int($0.packet.wireLength) }, "some captures are cut short")
        XCTAssertThrowsError(try CaptureFile(path: "/nonexistent.pcap"))
    }

    func testSnapLengthIsWhatAcceptingFiltersReturn() throws {
        let program = try Libpcap.compile("", optimize: true, snapLength: 1500).get()
        XCTAssertEqual(Libpcap.filter(program, packet: [1, 2, 3], wireLength: 3), 1500)
    }
}
