import XCTest
import EBPF
import FilterCompiler
@testable import Ruleset

/// Whole files through the expression compiler: errors inside expressions come back with the
/// file's line and column, also through continued lines; nothing is returned when anything fails.
final class RulesetCompileTests: XCTestCase {
    /// The first diagnostic of a file that must fail.
    private func failure(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RulesetError? {
        do {
            let ruleset = try Ruleset.parse(text, file: "rules.conf")
            XCTFail("accepted: \(ruleset.rules.map(\.expression))", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testExampleRulesetCompiles() throws {
        // rules/example.conf, the ruleset the README and `xdpfw demo` use.
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../rules/example.conf").standardized.path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let ruleset = try Ruleset.parse(text, file: "example.conf")
        XCTAssertEqual(ruleset.file, "example.conf")
        XCTAssertEqual(ruleset.policy, .pass)
        XCTAssertEqual(ruleset.rules.map(\.number), [1, 2, 3, 4])
        XCTAssertEqual(ruleset.rules.map(\.line), [3, 4, 5, 7])
        XCTAssertEqual(ruleset.rules.map(\.verdict), [.drop, .pass, .drop, .drop])
        XCTAssertEqual(ruleset.rules[2].expression, "udp and (port 53 or port 123)")
        XCTAssertEqual(ruleset.counterSlots, 5)
        for rule in ruleset.rules {
            XCTAssertEqual(try rule.program, try FilterCompiler.compile(rule.expression), "rule \(rule.number)")
        }
    }

    /// Issue 9, item 2: a generator that fails and prints nothing must not become "pass all".
    func testEmptyInputIsAnErrorAndAPolicyAloneIsNot() throws {
        for text in ["", "\n", "  \t\n# nothing yet\n\n", "set web { 80 }  # a set, but no rule uses it\n"] {
            XCTAssertThrowsError(try Ruleset.parse(text, file: "empty.conf"), "\(text.debugDescription)") {
                XCTAssert(($0 as? RulesetError)?.description.hasPrefix("empty.conf: no rules and no policy") ?? false, "\($0)")
            }
        }
        let ruleset = try Ruleset.parse("# pass everything, on purpose\npolicy pass\n", file: "open.conf")
        XCTAssertEqual(ruleset.policy, .pass)
        XCTAssertTrue(ruleset.rules.isEmpty)
        XCTAssertEqual(ruleset.counterSlots, 1)
    }

    func testCommentsWithHashAndBackslashAroundExpressions() throws {
        let text = "drop ether proto \\ip and udp # not \\\npass tcp # C:\\ # x\n"
        let ruleset = try Ruleset.parse(text, file: "r")
        XCTAssertEqual(ruleset.rules.map(\.expression), ["ether proto \\ip and udp", "tcp"])
    }

    /// Where the compiler itself puts the error of an expression written as `pieces` (each piece
    /// one physical line's part of the rule: line, 1-based column where it starts, text), mapped
    /// the way a reader counts: so the test checks the mapping, not the compiler's choice of range.
    private func expectedPlace(_ pieces: [(line: Int, column: Int, text: String)]) -> (line: Int, column: Int, message: String)? {
        let expression = pieces.map(\.text).joined(separator: " ")
        do {
            _ = try FilterCompiler.compile(expression)
            XCTFail("'\(expression)' compiles")
            return nil
        } catch {
            var start = 0
            for (index, piece) in pieces.enumerated() {
                let end = start + piece.text.utf8.count
                if error.range.start < end || index == pieces.count - 1 {
                    return (piece.line, piece.column + min(error.range.start - start, piece.text.utf8.count), error.message)
                }
                start = end + 1
            }
            return nil
        }
    }

    private func assertPlace(_ text: String, _ pieces: [(line: Int, column: Int, text: String)],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        guard let expected = expectedPlace(pieces), let error = failure(text, file: file, line: line) else { return }
        XCTAssertEqual(error.diagnostics.count, 1, "\(error)", file: file, line: line)
        let first = try XCTUnwrap(error.diagnostics.first, "\(error)", file: file, line: line)
        XCTAssertEqual(first.line, expected.line, "\(error)", file: file, line: line)
        XCTAssertEqual(first.column, expected.column, "\(error)", file: file, line: line)
        XCTAssertEqual(first.message, expected.message, file: file, line: line)
    }

    func testUnknownPortOnAContinuedLinePointsAtIt() throws {
        let text = "policy drop\ndrop udp and (port 53 or \\\n              port nosuchservice)\n"
        try assertPlace(text, [(2, 6, "udp and (port 53 or"), (3, 15, "port nosuchservice)")])
        guard let error = failure(text) else { return }
        let first = try XCTUnwrap(error.diagnostics.first, "\(error)")
        XCTAssertTrue(first.message.contains("nosuchservice"), first.message)
        XCTAssertEqual(first.sourceLine, "              port nosuchservice)")
        let caret = error.rendered.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        XCTAssertEqual(caret.prefix { $0 == " " }.count, first.column - 1, "caret under the column")
        XCTAssertTrue(caret.hasSuffix("^") || caret.hasSuffix("~"), String(caret))
    }

    func testErrorOnTheFirstOfSeveralLinesStaysThere() throws {
        let text = "drop udp port nosuchservice and \\\n    udp\n"
        try assertPlace(text, [(1, 6, "udp port nosuchservice and"), (2, 5, "udp")])
    }

    func testBadAddressPointsAtTheAddress() throws {
        try assertPlace("pass tcp\n  drop host 300.1.2.3 # typo\n", [(2, 8, "host 300.1.2.3")])
    }

    func testUnknownKeywordWithTabs() throws {
        try assertPlace("\tdrop\ttcp and frobnicate 3\n", [(1, 7, "tcp and frobnicate 3")])
    }

    func testRuleThatCanNeverMatchIsRejected() throws {
        try assertPlace("pass tcp port 80\ndrop   tcp and udp\n", [(2, 8, "tcp and udp")])
        XCTAssertEqual(failure("drop tcp and udp\n")?.diagnostics.first?.message, "expression rejects all packets")
    }

    func testSyntaxErrorStaysInsideItsRule() throws {
        try assertPlace("pass tcp and and udp\n", [(1, 6, "tcp and and udp")])
        try assertPlace("pass (tcp or \\\n  udp\n", [(1, 6, "(tcp or"), (2, 3, "udp")])
    }

    func testEveryProblemIsReportedInFileOrder() {
        let text = """
            drop tcp port nosuchservice
            dorp udp
            pass icmp
            drop udp and tcp
            policy sometimes

            """
        guard let error = failure(text) else { return }
        XCTAssertEqual(error.diagnostics.map(\.line), [1, 2, 4, 5])
        XCTAssertTrue(error.diagnostics.allSatisfy { $0.file == "rules.conf" })
    }

    func testCompilingARulesFileKeepsItsTexts() throws {
        let source = try RulesFile.parse("policy drop\npass tcp port 22 # ssh\n", file: "r")
        let ruleset = try Ruleset(compiling: source)
        XCTAssertEqual(ruleset.policy, .drop)
        XCTAssertEqual(ruleset.rules.first?.text, source.rules.first)
        XCTAssertEqual(ruleset.rules.first?.text.source, "pass tcp port 22 # ssh")
    }

    func testRulesetProgramBuildsForBothHooks() throws {
        let ruleset = try Ruleset.parse("drop udp port 53\npass tcp\npolicy drop\n", file: "r")
        XCTAssertEqual(Ruleset.counterSlot(ofRuleIndex: nil), 0)
        XCTAssertEqual(Ruleset.counterSlot(ofRuleIndex: 1), 2)
        for index in [nil, 0, 1, 7] as [Int?] {
            XCTAssertEqual(Ruleset.ruleIndex(ofCounterSlot: Ruleset.counterSlot(ofRuleIndex: index)), index)
        }
        for hook in [XDPHook() as any HookContext, TCHook()] {
            let program = try ruleset.ebpfProgram(for: hook)
            XCTAssertFalse(program.isEmpty)
            XCTAssertTrue(program.contains { $0.mapReference == MapName.counters })
        }
    }
}
