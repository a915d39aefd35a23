import XCTest
@testable import Ruleset

/// `set NAME { ... }` statements and `@NAME` in rules (the kernel tests check what they mean).
final class SetTests: XCTestCase {
    func testSetsAreReadAndWrittenOutAsAnOr() throws {
        let file = try RulesFile.parse("set bad { 192.0.2.0/24, 198.51.100.7/32 }\nset web {80 443}\ndrop src net @bad and tcp dst port @web\n", file: "r.conf")
        XCTAssertEqual(file.sets["bad"], ["192.0.2.0/24", "198.51.100.7/32"])
        XCTAssertEqual(file.sets["web"], ["80", "443"])
        let expanded = try SetExpansion.expanding(file.rules[0].expression, sets: file.sets).get()
        XCTAssertEqual(expanded.text, "(src net 192.0.2.0/24 or 198.51.100.7/32) and (tcp dst port 80 or 443)")
        XCTAssertEqual(try SetExpansion.expanding("src or dst net @bad", sets: file.sets).get().text,
                       "(src or dst net 192.0.2.0/24 or 198.51.100.7/32)")
        XCTAssertEqual(try SetExpansion.expanding("tcp or @web", sets: file.sets).get().text, "tcp or (80 or 443)")
        let ruleset = try Ruleset.parse("set bad { 10.0.0.1, 10.0.0.2 }\ndrop src host @bad\n", file: "r.conf")
        XCTAssertEqual(ruleset.rules[0].lookupMatches.count, 2)
        XCTAssertEqual(ruleset.rules[0].expression, "src host @bad", "rules are shown as written")
    }

    /// A set's braces hold it together over lines, with comments and blank lines inside, as an
    /// nft user writes it; the statement after the closing brace stands on its own.
    func testSetsSpanLinesUntilTheirClosingBrace() throws {
        let text = "set bad {\n  192.0.2.0/24,   # lab\n\n  198.51.100.7 # one host\n}\ndrop src net @bad\npass tcp\n"
        let file = try RulesFile.parse(text, file: "r.conf")
        XCTAssertEqual(file.sets["bad"], ["192.0.2.0/24", "198.51.100.7"])
        XCTAssertEqual(file.rules.map(\.expression), ["src net @bad", "tcp"])
        XCTAssertEqual(file.rules.map(\.line), [6, 7])
        XCTAssertThrowsError(try RulesFile.parse("set bad {\n  10.0.0.1\ndrop src host @bad\n", file: "r.conf")) {
            XCTAssert(($0 as? RulesetError)?.description.contains("r.conf:1:9: expected '{' and entries ending with '}'") ?? false,
                      "an unclosed set is reported at its brace: \($0)")
        }
    }

    func testSetFilesHoldOneEntryALine() throws {
        let text = "set bad file bad.txt\ndrop src host @bad\n"
        let ruleset = try Ruleset.parse(text, file: "r.conf", readFile: { path in
            path == "bad.txt" ? .success("# hosts\n10.0.0.1\n10.0.0.2   # two\n\n") : .failure(SetFileError("no such file"))
        })
        XCTAssertEqual(ruleset.rules[0].lookupMatches.count, 2)
        XCTAssertThrowsError(try Ruleset.parse("set bad file nope.txt\n", file: "r.conf", readFile: { _ in .failure(SetFileError("no such file")) })) {
            XCTAssertEqual(($0 as? RulesetError)?.description, "r.conf:1:14: nope.txt: no such file")
        }
    }

    func testMistakesInSetsNameThePlace() {
        func message(_ text: String) -> String {
            do { _ = try Ruleset.parse(text, file: "r.conf"); return "" } catch { return error.description }
        }
        XCTAssertEqual(message("drop src host @nope\n"), "r.conf:1:15: no set named 'nope': define it with 'set nope { ... }'")
        XCTAssertEqual(message("set a { 1.2.3.4 }\ndrop src host @a and tcp port 99999\n"), "r.conf:2:22: illegal port number 99999 > 65535")
        XCTAssert(message("set a { 1.2.3.4 }\nset a { 5.6.7.8 }\n").contains("r.conf:2:5: the set 'a' is defined twice"))
        XCTAssert(message("set a 1.2.3.4\n").contains("r.conf:1:7: expected '{'"))
        XCTAssert(message("set a { }\n").contains("is empty"))
        XCTAssert(message("set a file x\ndrop src host @a\n").contains("r.conf:1:12: sets read from files need a rules file on disk"))
        XCTAssert(message("drop src host @\n").contains("expected a set's name after '@'"))
    }
}
