import XCTest
import Foundation
@testable import FilterLanguage
import FilterCompiler
import ClassicBPF
import DifferentialTesting

/// Long and deep expressions against the installed libpcap: what it takes we take, up to our
/// limits (Parser.maximumOperators, Parser.maximumDepth), with the same unoptimized listing; past
/// them a clear error, never a crash, also on a 512 KiB thread stack.
final class LongExpressionTests: XCTestCase {
    static func hostChain(_ terms: Int) -> String {
        (0..<terms).map { "host 10.\($0 >> 16 & 255).\($0 >> 8 & 255).\($0 & 255)" }.joined(separator: " or ")
    }

    static func nested(_ levels: Int, _ inner: String = "tcp") -> String {
        String(repeating: "(", count: levels) + inner + String(repeating: ")", count: levels)
    }

    /// Ways to nest, each as deep as asked.
    static var nestingShapes: [(Int) -> String] {
        func parentheses(_ levels: Int) -> String { nested(levels) }
        func negated(_ levels: Int) -> String { nested(levels, "not (udp)") }
        func operands(_ levels: Int) -> String { "port 1 and " + nested(levels, "2") }
        func arithmetic(_ levels: Int) -> String { "len = " + nested(levels, "1") }
        func nots(_ levels: Int) -> String { String(repeating: "not ", count: levels) + "tcp" }
        func loads(_ levels: Int) -> String {
            String(repeating: "ip[", count: levels) + "1" + String(repeating: "]", count: levels) + " = 1"
        }
        return [parentheses, negated, operands, arithmetic, nots, loads]
    }

    /// The deepest expression of a shape that our parser takes.
    static func deepestAccepted(_ shape: (Int) -> String) -> String {
        (1...Parser.maximumDepth + 1).map(shape).last { (try? FilterParser.parse($0)) != nil } ?? ""
    }

    /// Accept/reject as libpcap decides, and the same `-O -d` text where both accept.
    func testLongChainsAndDeepParenthesesAsLibpcap() {
        let operators = Parser.maximumOperators
        let texts: [String] = [
            Array(repeating: "tcp", count: 1000).joined(separator: " or "),
            Array(repeating: "tcp", count: operators / 2).joined(separator: " and "),
            "host 10.0.0.1 or " + Self.hostChain(1500).replacingOccurrences(of: "host ", with: ""),
            Self.hostChain(1000),
            "len = " + Array(repeating: "1", count: 1000).joined(separator: " + "),
            "len > " + String(repeating: "- ", count: 999) + "1",
            // Rejected by both: unbalanced, or a syntax error at the end of a long chain.
            Self.nested(Parser.maximumDepth / 2) + ")", Array(repeating: "tcp", count: 2000).joined(separator: " or ") + " or",
        ] + Self.nestingShapes.map { Self.deepestAccepted($0) }
        for text in texts {
            let ours = GeneratorLibpcapTests.ours(text), theirs = GeneratorLibpcapTests.libpcap(text)
            switch (theirs, ours) {
            case let (.success(expected), .success(actual)):
                XCTAssertTrue(expected == actual, "\(text.prefix(60))…: -O -d differs\n" + GeneratorLibpcapTests.Tally.diff(expected, actual).prefix(2000))
            case (.failure, .failure):
                break
            case let (.success, .failure(error)):
                XCTFail("\(text.prefix(60))…: libpcap accepts, we say \(error.message)")
            case let (.failure(error), .success):
                XCTFail("\(text.prefix(60))…: libpcap rejects (\(error.message)), we accept")
            }
        }
    }

    /// The 3,000-term chain libpcap users write: our unoptimized listing is libpcap's, byte for
    /// byte. libpcap's own compile takes ~25 s of it (quadratic); ours ~0.3 s in a debug build.
    func testThreeThousandTermHostChainListsAsLibpcap() throws {
        let text = Self.hostChain(3000)
        let clock = ContinuousClock()
        let start = clock.now
        let ours = try XCTUnwrap(try? GeneratorLibpcapTests.ours(text).get())
        let ourTime = clock.now - start
        let libpcapStart = clock.now
        let theirs = try XCTUnwrap(try? GeneratorLibpcapTests.libpcap(text).get())
        print("3,000-term host chain, -O -d: xdpfw \(ourTime), libpcap \(clock.now - libpcapStart), \(ours.split(separator: "\n").count) lines")
        XCTAssertTrue(ours == theirs, GeneratorLibpcapTests.Tally.diff(theirs, ours).prefix(2000) + "")
    }

    /// Past our limits libpcap still accepts; we say why, pointing at the first token too many.
    func testBeyondTheLimitsAClearError() {
        let chain = Array(repeating: "tcp", count: Parser.maximumOperators + 2).joined(separator: " or ")
        XCTAssertThrowsError(try FilterParser.parse(chain)) { error in
            guard let error = error as? FilterError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.message, "expression too long (more than \(Parser.maximumOperators) and/or/not and arithmetic operators)")
            XCTAssertEqual(String(decoding: Array(chain.utf8)[error.range.start..<error.range.end], as: UTF8.self), "or")
            XCTAssertEqual(error.range.start, (Parser.maximumOperators + 1) * "tcp or ".utf8.count - " or ".utf8.count + 1)
        }
        // One level deeper than the deepest we take: libpcap still takes it (up to 9,995 parentheses).
        for shape in Self.nestingShapes {
            let deepest = Self.deepestAccepted(shape)
            guard let levels = (1...Parser.maximumDepth + 1).first(where: { shape($0) == deepest }) else { return XCTFail(deepest) }
            let deeper = shape(levels + 1)
            XCTAssertThrowsError(try FilterParser.parse(deeper)) { error in
                XCTAssertTrue((error as? FilterError)?.message.hasPrefix("expression nested too deeply") == true, "\(error)")
            }
            if case .success = Libpcap.compile(deeper, optimize: false) {} else { XCTFail("libpcap takes \(deeper)") }
        }
    }

    /// The longest chains taken compile (unoptimized, to classic BPF) and are freed on a thread
    /// with a 512 KiB stack, the size of Swift concurrency's threads.
    func testLongestChainsCompileOnASmallStack() {
        let terms = Parser.maximumOperators + 1
        let texts = [Array(repeating: "tcp", count: terms).joined(separator: " or "),
                     Self.hostChain(terms),
                     "len = " + Array(repeating: "1", count: terms).joined(separator: " + "),
                     "len = " + String(repeating: "- ", count: Parser.maximumOperators) + "1"]
        final class Results: @unchecked Sendable { var compiled: [Bool] = [] }  // written before fulfil, read after wait
        let results = Results()
        let done = expectation(description: "compiled on a small stack")
        let thread = Thread {
            var options = CompileOptions()
            options.optimize = false
            results.compiled = texts.map { text in
                guard let program = try? FilterCompiler.compile(text, options: options) else { return false }
                return !ClassicCodeGenerator.generate(program).isEmpty
            }
            done.fulfill()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        wait(for: [done], timeout: 300)
        XCTAssertEqual(results.compiled, Array(repeating: true, count: texts.count))
    }
}
