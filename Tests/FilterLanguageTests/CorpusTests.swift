import XCTest
@testable import FilterLanguage

/// libpcap's own filter-compiler test expressions (the shared corpus).
final class CorpusTests: XCTestCase {
    func testEveryAcceptedExpressionParses() throws {
        let rows = try Oracle.corpus("accept-en10mb.tsv")
        XCTAssertGreaterThan(rows.count, 300)
        for row in rows {
            let expression = row.count > 1 ? row[1] : ""
            if case let .failure(error) = ourVerdict(expression) {
                XCTFail("\(row[0]): rejected '\(expression)': \(error.rendered(source: expression))")
            }
        }
    }

    /// libpcap's syntax errors must be ours too; its other errors come from later stages, so the
    /// parser must accept those expressions (or give libpcap's very message when the grammar
    /// itself raises it, like the scanner's "bogus ethernet address").
    func testRejectedExpressions() throws {
        let rows = try Oracle.corpus("reject-en10mb.tsv")
        XCTAssertGreaterThan(rows.count, 40)
        for row in rows where row.count >= 3 {
            let (name, expression, message) = (row[0], row[1], row[2])
            let ours = ourVerdict(expression)
            if message.contains("syntax error") {
                if case .success = ours { XCTFail("\(name): '\(expression)' parsed, libpcap says \(message)") }
            } else if case let .failure(error) = ours {
                XCTAssert(error.message.hasPrefix(message), "\(name): '\(expression)': libpcap says \(message), we say \(error.message)")
            }
        }
    }
}
