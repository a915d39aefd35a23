import Foundation
import XCTest

/// What scripts rely on without root: exit statuses, `xdpfw: ` errors on standard error, and
/// `compile -d` printing exactly what tcpdump prints.
final class UsageTests: XCTestCase {
    func testHelpAndVersionExitZeroOnStandardOutput() throws {
        for arguments in [["--help"], ["help", "apply"], ["compile", "--help"], ["set", "--help"], ["--version"]] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments)")
            XCTAssertFalse(result.standardOutput.isEmpty, "\(arguments)")
            XCTAssertEqual(result.standardError, "", "\(arguments)")
        }
        XCTAssertTrue(try CommandRunner.run(["--help"]).standardOutput.contains("Exit status: 0 success, 1 an error"))
        let set = try CommandRunner.run(["set", "--help"]).standardOutput
        for usage in ["xdpfw set add <interface> <name> <entry> ... [--hook <hook>]", "xdpfw set del <interface> <name> <entry> ... [--hook <hook>]",
                      "xdpfw set list <interface> [<name>] [--hook <hook>] [--json]"] {
            XCTAssertTrue(set.contains(usage), "set --help names --hook as docs/command-line.md does: \(set)")
        }
    }

    func testUsageErrorsExitTwo() throws {
        let cases: [[String]] = [
            ["bogus"],
            ["compile", "tcp"],
            ["compile", "-d", "--ebpf", "tcp"],
            ["compile", "-d", "-s", "300000", "ip"],
            ["compile", "--ebpf", "-f", "rules/example.conf", "tcp"],
            ["set", "add", "lo", "blocklist"],
            ["set", "list", "lo", "blocklist", "10.0.0.1"],
            ["set", "remove", "lo", "blocklist", "10.0.0.1"],
            ["apply", "rules/example.conf"],
            ["apply", "rules/example.conf", "lo", "--hook", "tc-egress", "--mode", "native"],
            ["stats", "--hook", "nowhere"],
            ["test", "rules/example.conf"],
        ]
        for arguments in cases {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.hasPrefix("xdpfw: "), "\(arguments): \(result.standardError)")
            XCTAssertEqual(result.standardOutput, "", "\(arguments)")
        }
    }

    func testSnapLengthErrorIsWordedAsTcpdumps() throws {
        let result = try CommandRunner.run(["compile", "-d", "-s", "abc", "ip"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.hasPrefix("xdpfw: invalid snaplen abc (must be >= 0 and <= 262144)\n"), result.standardError)
    }

    func testBadExpressionExitsOneWithCaret() throws {
        let result = try CommandRunner.run(["compile", "-d", "tcp", "port", "nosuchservice"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.standardOutput, "")
        let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].hasPrefix("xdpfw: ") && lines[0].contains("nosuchservice"), result.standardError)
        XCTAssertEqual(lines[1], "tcp port nosuchservice")
        XCTAssertTrue(lines[2].trimmingCharacters(in: .whitespaces).hasPrefix("^"), result.standardError)
    }

    func testMissingRulesFileExitsOne() throws {
        let result = try CommandRunner.run(["check", "/nonexistent/rules.conf"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.standardError, "xdpfw: /nonexistent/rules.conf: no such file\n")
    }

    func testEveryRuleProblemIsReportedWithPlace() throws {
        let text = "policy drop\ndorp tcp\npass tcp and udp\ndrop udp port \\\n    nosuchservice\n"
        let result = try CommandRunner.run(["check", "-"], input: text)
        XCTAssertEqual(result.status, 1)
        let heads = result.standardError.split(separator: "\n").filter { $0.hasPrefix("xdpfw: ") }
        XCTAssertEqual(heads.count, 3, result.standardError)
        XCTAssertTrue(heads[0].hasPrefix("xdpfw: <stdin>:2:1: unknown statement 'dorp'"), result.standardError)
        XCTAssertTrue(heads[1].hasPrefix("xdpfw: <stdin>:3:6: expression rejects all packets"), result.standardError)
        XCTAssertTrue(heads[2].hasPrefix("xdpfw: <stdin>:4:") || heads[2].hasPrefix("xdpfw: <stdin>:5:"), result.standardError)
    }

    /// Differential: xdpfw's stdout against the installed tcpdump's, for every dump format.
    func testCompilePrintsWhatTcpdumpPrints() throws {
        guard try CommandRunner.tcpdump(["-d", "ip"]) != nil else { throw XCTSkip("tcpdump is not installed") }
        let expressions = ["", "ip", "tcp dst port 22 and not src net 10.0.0.0/8", "udp and (port 53 or port 123)",
                           "icmp[icmptype] == icmp-echo and greater 1000", "vlan and ip6", "tcp and udp", "port 99999"]
        let options: [[String]] = [["-d"], ["-dd"], ["-ddd"], ["-O", "-d"], ["-d", "-s", "100"], ["-Odd"], ["-d", "-d"]]
        for expression in expressions {
            for option in options {
                let ours = try CommandRunner.run(["compile"] + option + ["--", expression])
                let theirs = try XCTUnwrap(CommandRunner.tcpdump(option + [expression]))
                XCTAssertEqual(ours.status == 0, theirs.status == 0, "\(option) '\(expression)': \(ours.standardError)")
                XCTAssertEqual(ours.standardOutput, theirs.standardOutput, "\(option) '\(expression)'")
            }
        }
    }

    func testExpressionWordsAreJoinedWithSpaces() throws {
        let words = try CommandRunner.run(["compile", "-d", "tcp", "port", "80"])
        let quoted = try CommandRunner.run(["compile", "-d", "tcp port 80"])
        XCTAssertEqual(words.status, 0)
        XCTAssertEqual(words.standardOutput, quoted.standardOutput)
    }

    func testEBPFListingForExpressionAndRulesFile() throws {
        let expression = try CommandRunner.run(["compile", "--ebpf", "--hook", "tc", "udp", "port", "53"])
        XCTAssertEqual(expression.status, 0, expression.standardError)
        XCTAssertTrue(expression.standardOutput.contains("exit"), expression.standardOutput)
        let file = try CommandRunner.run(["compile", "--ebpf", "-f", "-"], input: "drop udp port 53\n")
        XCTAssertEqual(file.status, 0, file.standardError)
        XCTAssertTrue(file.standardOutput.contains("map[counters]"), file.standardOutput)
    }
}
