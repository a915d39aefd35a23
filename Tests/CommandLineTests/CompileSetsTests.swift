import Foundation
import XCTest

/// `xdpfw compile -d -f rules.conf [EXPRESSION]`: the sets of a rules file written out as
/// `or`s, byte for byte what the installed tcpdump prints for the written-out expression.
final class CompileSetsTests: XCTestCase {
    let sets: [String: [String]] = [
        "bl": ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "198.51.100.0/24"],
        "web": ["22", "80", "443"],
    ]

    private func rulesFile() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-compile-sets-\(getpid()).conf")
        let text = """
            set bl {
              \(sets["bl"]!.joined(separator: ",\n  "))
            }
            set web { \(sets["web"]!.joined(separator: " ")) }
            drop src net @bl
            pass tcp dst port @web and not dst net @bl
            drop udp

            """
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// `QUALIFIERS @NAME` as `(QUALIFIERS A or B ...)`, as the rules file means it.
    private func writtenOut(_ expression: String) -> String {
        expression.replacingOccurrences(of: "src net @bl", with: "(src net \(sets["bl"]!.joined(separator: " or ")))")
            .replacingOccurrences(of: "dst net @bl", with: "(dst net \(sets["bl"]!.joined(separator: " or ")))")
            .replacingOccurrences(of: "tcp dst port @web", with: "(tcp dst port \(sets["web"]!.joined(separator: " or ")))")
    }

    func testExpressionsWithSetsPrintAsTcpdumpPrintsTheWrittenOutOr() throws {
        guard try CommandRunner.tcpdump(["-d", "ip"]) != nil else { throw XCTSkip("tcpdump is not installed") }
        let file = try rulesFile()
        defer { try? FileManager.default.removeItem(at: file) }
        for expression in ["src net @bl", "tcp dst port @web and not dst net @bl", "src net @bl or udp"] {
            for level in ["-d", "-dd", "-ddd"] {
                for optimize in [[], ["-O"]] {
                    let ours = try CommandRunner.run(["compile"] + optimize + [level, "-f", file.path, expression])
                    XCTAssertEqual(ours.status, 0, ours.standardError)
                    let theirs = try XCTUnwrap(CommandRunner.tcpdump(optimize + [level, writtenOut(expression)]))
                    XCTAssertEqual(ours.standardOutput, theirs.standardOutput, "\(optimize) \(level) \(expression)")
                }
            }
        }
    }

    func testEveryRuleIsListedAfterItsHeader() throws {
        guard try CommandRunner.tcpdump(["-d", "ip"]) != nil else { throw XCTSkip("tcpdump is not installed") }
        let file = try rulesFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let ours = try CommandRunner.run(["compile", "-d", "-f", file.path])
        XCTAssertEqual(ours.status, 0, ours.standardError)
        var expected = ""
        for (number, rule) in [(8, "drop src net @bl"), (9, "pass tcp dst port @web and not dst net @bl"), (10, "drop udp")].enumerated() {
            expected += "# rule \(number + 1) (line \(rule.0)): \(rule.1)\n"
            let expression = String(rule.1.drop { $0 != " " }.dropFirst())
            expected += try XCTUnwrap(CommandRunner.tcpdump(["-d", writtenOut(expression)])).standardOutput
        }
        XCTAssertEqual(ours.standardOutput, expected)
        let unknown = try CommandRunner.run(["compile", "-d", "-f", file.path, "src net @nope"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.standardError.hasPrefix("xdpfw: no set named 'nope'"), unknown.standardError)
    }
}
