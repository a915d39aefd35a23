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

    /// Which rules test VLAN tags (what `apply` binds the program to the device for), with a
    /// set in the rule or not; a lookup never does.
    func testRulesThatTestVLANTagsAreKnownWithOrWithoutSets() throws {
        let ruleset = try Ruleset.parse("set bl { 192.0.2.0/24, 198.51.100.7 }\ndrop src net @bl\ndrop vlan 10 and src net @bl\n"
                                        + "drop tcp port 22 and src net @bl\ndrop vlan and udp\ndrop udp port 53\n", file: "v.conf")
        XCTAssertEqual(ruleset.rules.map(\.testsVLANTags), [false, true, false, true, false])
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
            XCTAssertEqual(($0 as? RulesetError)?.description,
                           "r.conf:3:19: the set 'bad' has no closing '}' (it opens on line 1), so every line after it was read as its entries",
                           "an unclosed set is reported where its '}' is missing: the end")
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

    private func diagnostics(_ text: String, file: String = "r.conf", setFiles: [String: String] = [:]) -> [RulesetDiagnostic] {
        do {
            _ = try Ruleset.parse(text, file: file, readFile: { path in
                setFiles[path].map { .success($0) } ?? .failure(SetFileError("no such file"))
            })
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// What the compiler says of the entry alone, used as the set uses it: the message a bad entry gets.
    private func message(of usage: String, _ entry: String) throws -> String {
        do {
            _ = try Ruleset.compileWrittenOut(usage, sets: ["s": [entry]], options: .init())
        } catch {
            return error.message
        }
        throw XCTSkip("'\(entry)' compiles as \(usage)")
    }

    /// Issue 9, item 3: each bad entry of a set file at its own line, every one, once, and no
    /// message about the rule or the set's size.
    func testBadEntriesOfASetFileAreReportedInThatFile() throws {
        var entries = (0..<2000).map { "10.\($0 / 256).\($0 % 256).0/24" }
        entries[1499] = "10.0.0.999"
        entries[1800] = "  10.0.0.300/8   # a comment"
        let text = "policy drop\n\nset bl file list.txt\ndrop src net @bl\npass dst net @bl and tcp\n"
        let found = diagnostics(text, file: "conf/rules.conf", setFiles: ["list.txt": entries.joined(separator: "\n") + "\n"])
        XCTAssertEqual(found.map { "\($0.file):\($0.line):\($0.column)" }, ["conf/list.txt:1500:1", "conf/list.txt:1801:3"])
        XCTAssertEqual(found.map(\.width), [10, 12])
        XCTAssertTrue(found[0].message.hasPrefix(try message(of: "src net @s", "10.0.0.999")), found[0].message)
        XCTAssertTrue(found[1].message.hasPrefix(try message(of: "src net @s", "10.0.0.300/8")), found[1].message)
        XCTAssertTrue(found.allSatisfy { $0.message.contains("the set 'bl'") && $0.message.contains("line 4") }, "\(found)")
    }

    func testBadEntriesOfAnInlineSetAreReportedWhereTheyAreWritten() throws {
        let text = "set s { 10.0.0.1, 10.0.0.999,\n  # more\n  10.0.0.256 }\ndrop host @s\ndrop src host @s\nset t { 1.2.3.4, a(b }\npass host @t\n"
        let found = diagnostics(text)
        XCTAssertEqual(found.map { "\($0.line):\($0.column)" }, ["1:19", "3:3", "6:18"])
        XCTAssertTrue(found[0].message.hasPrefix(try message(of: "host @s", "10.0.0.999")), found[0].message)
        XCTAssertTrue(found[1].message.hasPrefix(try message(of: "host @s", "10.0.0.256")), found[1].message)
        XCTAssertTrue(found[2].message.hasPrefix("'a(b' in the set 't'"), found[2].message)
    }

    /// A set that is wrong is reported once, by its own problem: the rules using it add nothing
    /// (no "no set named"), and no message suggests a name that is not a set's name.
    func testASetsOwnProblemIsTheOnlyOneReported() throws {
        let cases: [(String, String)] = [
            ("set 1 { 80 }\ndrop port @1\n", "1:5"),
            ("set s 10.0.0.1\ndrop host @s\n", "1:7"),
            ("set s { }\ndrop host @s\n", "1:5"),
            ("set s file missing.txt\ndrop host @s\n", "1:12"),
            ("set s {\n  10.0.0.1\ndrop host @s\n", "3:13"),
        ]
        for (text, place) in cases {
            let found = diagnostics(text)
            XCTAssertEqual(found.map { "\($0.line):\($0.column)" }, [place], "\(text.debugDescription): \(found)")
            XCTAssertFalse(found.contains { $0.message.contains("no set named") || $0.message.contains("'set 1") }, "\(found)")
        }
        XCTAssertTrue(diagnostics("drop port @1\n").allSatisfy { !$0.message.contains("'set 1") }, "\(diagnostics("drop port @1\n"))")
    }
}
