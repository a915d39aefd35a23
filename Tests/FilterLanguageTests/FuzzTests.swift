import Foundation
import XCTest
@testable import FilterLanguage

/// The parser never crashes, and every error points inside the text (or just past its end).
final class FuzzTests: XCTestCase {
    func check(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try FilterParser.parse(text)
        } catch {
            let length = text.utf8.count
            if !(0...length).contains(error.range.start) || error.range.end > length + 1 || error.range.end <= error.range.start {
                XCTFail("'\(text)': range \(error.range) outside 0...\(length + 1)", file: file, line: line)
            }
            _ = error.rendered(source: text)
        }
    }

    func testRandomTokenSequences() {
        var generator = RandomExpressions(seed: 1)
        for i in 0..<100_000 {
            check(i % 3 == 0 ? generator.soup(maximum: 12) : i % 3 == 1 ? generator.dense(maximum: 16) : generator.shaped())
        }
    }

    func testRandomByteStrings() {
        var random = SeededGenerator(seed: 2)
        let alphabet = Array("()[]:+-*/%&|^<>=!$\\.,_ \t\r\n0123456789abcdefxX".utf8) + Array("tcp and or not host".utf8)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...24, using: &random)
            let bytes: [UInt8] = (0..<count).map { _ in
                Bool.random(using: &random) ? alphabet.randomElement(using: &random) ?? 0 : UInt8.random(in: 0...255, using: &random)
            }
            check(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testDeepNestingIsAnErrorNotACrash() {
        for text in [String(repeating: "(", count: 5000) + "tcp" + String(repeating: ")", count: 5000),
                     String(repeating: "not ", count: 5000) + "tcp",
                     String(repeating: "- ", count: 5000) + "len = 1",
                     "len = " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000),
                     "port 1 and " + String(repeating: "(", count: 3000) + "1",
                     Array(repeating: "tcp", count: 3000).joined(separator: " or ")] {
            check(text)
        }
    }

    /// Swift concurrency runs code on threads with 512 KiB stacks: the deepest expression of each
    /// shape that the parser still takes must parse in one.
    func testDeepestAcceptedNestingFitsASmallStack() {
        func nest(_ open: String, _ inner: String, _ close: String) -> (Int) -> String {
            { String(repeating: open, count: $0) + inner + String(repeating: close, count: $0) }
        }
        let shapes = [nest("(", "tcp", ")"), nest("not (", "tcp", ")"),
                      { "port 1 and " + nest("(", "2", ")")($0) }, { "port 1 and " + nest("not (", "2", ")")($0) },
                      { "len = " + nest("(", "1", ")")($0) }, { nest("ip[", "1", "]")($0) + " = 1" },
                      nest("(", "len = 1", ")"), nest("not ", "tcp", ""), nest("- ", "len = 1", "")]
        let texts = shapes.map { shape in
            (1...Parser.maximumDepth + 1).map(shape).last { (try? FilterParser.parse($0)) != nil } ?? ""
        }
        XCTAssertFalse(texts.contains(""))
        // Far deeper is an error (or, for unary minus, which needs no recursion, fine), not a crash.
        let tooDeep = shapes.map { $0(Parser.maximumDepth * 20) }
        let done = expectation(description: "parsed on a small stack")
        final class Results: @unchecked Sendable { var parsed: [Bool] = [] }  // written before fulfil, read after wait
        let results = Results()
        let thread = Thread {
            results.parsed = texts.map { (try? FilterParser.parse($0)) != nil }
            for text in tooDeep { _ = try? FilterParser.parse(text) }
            // The longest chains taken are trees as deep as they are long; making and freeing them fits too.
            let terms = Parser.maximumOperators + 1
            let longest = [Array(repeating: "tcp", count: terms).joined(separator: " or "),
                           "len = " + Array(repeating: "1", count: terms).joined(separator: " + "),
                           "len = " + String(repeating: "- ", count: Parser.maximumOperators) + "1"]
            results.parsed.append(longest.allSatisfy { (try? FilterParser.parse($0)) != nil })
            done.fulfill()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        wait(for: [done], timeout: 60)
        XCTAssertEqual(results.parsed, Array(repeating: true, count: texts.count + 1))
    }

    /// Random expressions judged by the installed libpcap. `ORACLE_FUZZ_COUNT` and
    /// `ORACLE_FUZZ_SEED` widen the search.
    func testRandomExpressionsAgainstLibpcap() throws {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["ORACLE_FUZZ_COUNT"].flatMap { Int($0) } ?? 300
        let seed = environment["ORACLE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 3
        var generator = RandomExpressions(seed: seed)
        var mismatches: [String] = []
        for i in 0..<count {
            let expression = i % 3 == 0 ? generator.soup(maximum: 5) : i % 3 == 1 ? generator.dense() : generator.shaped()
            let libpcap = try Oracle.libpcap(expression)
            switch (libpcap, ourVerdict(expression)) {
            case (.accepted, .success), (.syntaxError, .failure), (.otherError, .success):
                continue
            case let (.otherError(message), .failure(error)):
                // Rejected either way. Which error comes first can differ: libpcap raises the
                // compiler's errors while it parses (`port a_` is "unknown port 'a'"), we raise
                // ours after it.
                if environment["ORACLE_FUZZ_VERBOSE"] != nil, error.message != message {
                    print("both reject '\(expression)': libpcap: \(message); ours: \(error.message)")
                }
            case let (.accepted, .failure(error)):
                mismatches.append("'\(expression)': libpcap accepts, we say \(error.message)")
            case let (.syntaxError(message), .success):
                mismatches.append("'\(expression)': libpcap says \(message), we accept")
            }
        }
        XCTAssert(mismatches.isEmpty, mismatches.joined(separator: "\n"))
    }
}
