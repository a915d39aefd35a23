import XCTest
import EBPF
@testable import Ruleset

/// The grammar of rules.conf itself: statements, comments, continuations, and where errors point.
final class RulesFileTests: XCTestCase {
    let example = """
        # comments start with '#', anywhere on a line
        policy pass                          # verdict when no rule matches
        drop tcp dst port 22 and not src net 10.0.0.0/8
        pass host 127.0.0.1 and port 80
        drop udp and (port 53 or \\
                      port 123)              # a trailing backslash continues the line

        """

    func testReadsTheDesignExample() throws {
        let file = try RulesFile.parse(example, file: "rules.conf")
        XCTAssertEqual(file.policy, .pass)
        XCTAssertEqual(file.policyLine, 2)
        XCTAssertEqual(file.rules.map(\.verdict), [.drop, .pass, .drop])
        XCTAssertEqual(file.rules.map(\.line), [3, 4, 5])
        XCTAssertEqual(file.rules.map(\.column), [1, 1, 1])
        XCTAssertEqual(file.rules.map(\.number), [1, 2, 3])
        XCTAssertEqual(file.rules.map(\.expression), [
            "tcp dst port 22 and not src net 10.0.0.0/8",
            "host 127.0.0.1 and port 80",
            "udp and (port 53 or port 123)",
        ])
        XCTAssertEqual(file.rules[2].source, """
            drop udp and (port 53 or \\
                          port 123)              # a trailing backslash continues the line
            """)
    }

    func testEmptyAndCommentOnlyFilesPassEverything() throws {
        for text in ["", "\n\n", "# nothing here\n   # indented comment\n", "   \t  "] {
            let file = try RulesFile.parse(text, file: "empty.conf")
            XCTAssertEqual(file.policy, .pass, "default policy for \(text.debugDescription)")
            XCTAssertNil(file.policyLine)
            XCTAssertTrue(file.rules.isEmpty)
        }
    }

    func testPolicyDropMaySitAfterRules() throws {
        let file = try RulesFile.parse("pass tcp port 22\npolicy drop # default deny\n", file: "r")
        XCTAssertEqual(file.policy, .drop)
        XCTAssertEqual(file.policyLine, 2)
        XCTAssertEqual(file.rules.count, 1)
    }

    func testBackslashAndHashInsideCommentsDoNotContinue() throws {
        let text = "drop tcp port 22 # see C:\\ and # more \\\npass udp # '#' and '\\'\n"
        let file = try RulesFile.parse(text, file: "r")
        XCTAssertEqual(file.rules.map(\.expression), ["tcp port 22", "udp"])
        XCTAssertEqual(file.rules.map(\.line), [1, 2])
    }

    func testContinuationFollowedByComment() throws {
        let text = "drop udp and \\   # why: DNS\n     port 53\npass tcp\n"
        let file = try RulesFile.parse(text, file: "r")
        XCTAssertEqual(file.rules.map(\.expression), ["udp and port 53", "tcp"])
        XCTAssertEqual(file.rules.map(\.line), [1, 3])
    }

    func testContinuationEndsAtAnEmptyLine() throws {
        let file = try RulesFile.parse("drop udp \\\n\npass tcp\n", file: "r")
        XCTAssertEqual(file.rules.map(\.expression), ["udp", "tcp"])
    }

    func testContinuedVerdictAndPolicy() throws {
        let file = try RulesFile.parse("policy \\\n drop\ndrop \\\n  tcp\n", file: "r")
        XCTAssertEqual(file.policy, .drop)
        XCTAssertEqual(file.rules.first?.expression, "tcp")
        XCTAssertEqual(file.rules.first?.line, 3)
    }

    func testVerdictMayTouchAParenthesisOrNot() throws {
        let file = try RulesFile.parse("drop(tcp or udp)\npass!icmp\n", file: "r")
        XCTAssertEqual(file.rules.map(\.verdict), [.drop, .pass])
        XCTAssertEqual(file.rules.map(\.expression), ["(tcp or udp)", "!icmp"])
    }

    func testEscapedKeywordIsNotAContinuation() throws {
        let file = try RulesFile.parse("drop ether proto \\ip\n", file: "r")
        XCTAssertEqual(file.rules.first?.expression, "ether proto \\ip")
    }

    func testColumnsCountIndentationAndCRLF() throws {
        let file = try RulesFile.parse("   drop tcp\r\n\tpass udp\r\n", file: "r")
        XCTAssertEqual(file.rules.map(\.column), [4, 2])
        XCTAssertEqual(file.rules.map(\.expression), ["tcp", "udp"])
    }

    func testStatementErrorsPointAtTheWord() {
        let cases: [(text: String, line: Int, column: Int, message: String)] = [
            ("dorp tcp\n", 1, 1, "unknown statement 'dorp'"),
            ("\n  accept tcp\n", 2, 3, "unknown statement 'accept'"),
            ("policy\n", 1, 1, "'policy' needs a verdict"),
            ("policy reject\n", 1, 8, "unknown policy 'reject'"),
            ("policy drop now\n", 1, 13, "unexpected 'now'"),
            ("policy pass\npolicy drop\n", 2, 1, "the policy is set twice (first on line 1)"),
            ("pass tcp\n  drop   # nothing\n", 2, 3, "'drop' needs an expression"),
            ("drop udp and \\\n", 1, 14, "ends with '\\'"),
            ("PASS tcp\n", 1, 1, "unknown statement 'PASS'"),
        ]
        for c in cases {
            XCTAssertThrowsError(try RulesFile.parse(c.text, file: "r.conf"), c.text.debugDescription) { error in
                guard let error = error as? RulesetError, let first = error.diagnostics.first else {
                    return XCTFail("not a RulesetError: \(error)")
                }
                XCTAssertEqual(error.diagnostics.count, 1, "\(error)")
                XCTAssertEqual(first.file, "r.conf")
                XCTAssertEqual(first.line, c.line, c.text.debugDescription)
                XCTAssertEqual(first.column, c.column, c.text.debugDescription)
                XCTAssertTrue(first.message.contains(c.message), "\(first.message) lacks \(c.message)")
            }
        }
    }

    func testAllProblemsAreCollectedInOrder() {
        let text = "dorp tcp\npass udp\npolicy maybe\ndrop\n"
        XCTAssertThrowsError(try RulesFile.parse(text, file: "r")) { error in
            let diagnostics = (error as? RulesetError)?.diagnostics ?? []
            XCTAssertEqual(diagnostics.map(\.line), [1, 3, 4])
        }
    }

    func testRenderedErrorHasLineAndCaret() {
        XCTAssertThrowsError(try RulesFile.parse("pass tcp\n\tpolicy  reject # x\n", file: "rules.conf")) { error in
            XCTAssertEqual((error as? RulesetError)?.rendered, """
                rules.conf:2:10: unknown policy 'reject': expected 'pass' or 'drop'
                \tpolicy  reject # x
                \t        ^~~~~~
                """)
        }
    }

    func testContinuedOffsetsMapBackToTheirLines() {
        let lines = SourceLines("drop udp and (port 53 or \\\n              port 123)  # x\n")
        let statement = lines.joinedLines().statements[0]
        XCTAssertEqual(statement.text, "drop udp and (port 53 or port 123)")
        let port123 = statement.text.utf8.count - "port 123)".utf8.count
        XCTAssertEqual(statement.place(ofOffset: port123).line, 2)
        XCTAssertEqual(statement.place(ofOffset: port123).lineOffset, 14)
        XCTAssertEqual(statement.place(ofOffset: 5).line, 1)
        XCTAssertEqual(statement.place(ofOffset: 5).lineOffset, 5)
        // The joining space maps to the end of the first line's text.
        XCTAssertEqual(statement.place(ofOffset: port123 - 1).line, 1)
        // A range that runs onto the next line is underlined only up to the end of its own line.
        XCTAssertEqual(statement.lengthOnLine(from: 19, to: port123 + 4), 5)
    }

    func testColumnsCountCharactersNotBytes() {
        let lines = SourceLines("drop host café and x\n")
        let at = "drop host café and ".utf8.count
        let diagnostic = lines.diagnostic(file: "r", line: 1, lineOffset: at, length: 1, "here")
        XCTAssertEqual(diagnostic.column, 20)
        XCTAssertTrue(diagnostic.rendered.hasSuffix("\n                   ^"))
    }
}
