import DifferentialTesting
import Foundation
import XCTest

/// How the command line is read (issue 9, item 10): every mistake is a usage error (status 2)
/// that names the mistake. No case reaches the kernel: interfaces and namespaces named here do
/// not exist, so even a regression cannot attach anything.
final class ArgumentTests: XCTestCase {
    private func usageError(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try CommandRunner.run(arguments)
        XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)", file: file, line: line)
        XCTAssertEqual(result.standardOutput, "", "\(arguments)", file: file, line: line)
        XCTAssertTrue(result.standardError.hasPrefix("xdpfw: "), "\(arguments): \(result.standardError)", file: file, line: line)
        return result.standardError
    }

    func testANegativeNumberIsABadValueNotAMissingOne() throws {
        let repeatCount = try usageError(["bench", "rules/example.conf", "--repeat", "-5"])
        XCTAssertTrue(repeatCount.hasPrefix("xdpfw: the value '-5' is invalid for '--repeat"), repeatCount)
        let snapLength = try usageError(["compile", "-d", "-s", "-5", "ip"])
        XCTAssertTrue(snapLength.hasPrefix("xdpfw: invalid snaplen -5"), snapLength)
    }

    func testAnUnknownOptionIsNamedEvenWhenArgumentsAreMissing() throws {
        for arguments in [["apply", "--bogus"], ["apply", "rules/example.conf", "--bogus"], ["check", "--bogus"],
                          ["test", "--bogus"], ["set", "add", "--bogus"]] {
            let message = try usageError(arguments)
            XCTAssertTrue(message.hasPrefix("xdpfw: unknown option '--bogus'"), "\(arguments): \(message)")
        }
    }

    func testASingleValuedOptionGivenTwiceIsRefused() throws {
        let cases: [([String], String)] = [
            (["apply", "rules/example.conf", "xdpfw-none0", "--hook", "xdp", "--hook", "tc-ingress"], "--hook"),
            (["-n", "xdpfw-none-a", "-n", "xdpfw-none-b", "status"], "-n"),
            (["--netns=xdpfw-none-a", "-n", "xdpfw-none-b", "status"], "-n"),
            (["bench", "rules/example.conf", "--repeat", "1", "--repeat", "2"], "--repeat"),
            (["bench", "rules/example.conf", "--packets", "a.pcap", "--pcap", "b.pcap"], "--pcap"),
            (["compile", "-d", "-s", "1", "-s", "2", "ip"], "-s"),
            (["detach", "xdpfw-none0", "--hook", "xdp", "--hook=tc-egress"], "--hook"),
        ]
        for (arguments, option) in cases {
            let message = try usageError(arguments)
            XCTAssertTrue(message.hasPrefix("xdpfw: \(option) is given more than once"), "\(arguments): \(message)")
        }
        // A counted flag is not an option with a value: -d -d is -dd, as in tcpdump.
        XCTAssertEqual(try CommandRunner.run(["compile", "-d", "-d", "ip"]).standardOutput,
                       try CommandRunner.run(["compile", "-dd", "ip"]).standardOutput)
    }

    /// `apply`'s hook names work wherever a hook is chosen: tc-ingress and tc-egress mean the TC program.
    func testEveryVerbTakesTheHookNamesApplyTakes() throws {
        let tc = try CommandRunner.run(["compile", "--ebpf", "--hook", "tc", "tcp port 22"])
        XCTAssertEqual(tc.status, 0, tc.standardError)
        for spelling in ["tc-ingress", "tc-egress"] {
            XCTAssertEqual(try CommandRunner.run(["compile", "--ebpf", "--hook", spelling, "tcp port 22"]).standardOutput, tc.standardOutput)
            // Past the command line: the missing rules file is the (status 1) error, not the hook.
            for arguments in [["check", "/nonexistent/rules.conf", "--hook", spelling],
                              ["test", "/nonexistent/rules.conf", "x.pcap", "--hook", spelling],
                              ["bench", "/nonexistent/rules.conf", "--hook", spelling]] {
                let result = try CommandRunner.run(arguments)
                XCTAssertEqual(result.status, 1, "\(arguments): \(result.standardError)")
                XCTAssertEqual(result.standardError, "xdpfw: /nonexistent/rules.conf: no such file\n", "\(arguments)")
            }
        }
        let bad = try usageError(["check", "rules/example.conf", "--hook", "tc-sideways"])
        XCTAssertTrue(bad.contains("tc-ingress"), "the message lists the hooks: \(bad)")
    }

    /// The example in `bench --help` keeps its shape: no line of it wraps in an 80-column help.
    func testBenchHelpShowsItsJSONExampleUnwrapped() throws {
        let help = try CommandRunner.run(["bench", "--help"]).standardOutput
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("  {") }, help)
        let end = try XCTUnwrap(lines[start...].firstIndex { $0.hasSuffix("}") }, help)
        for line in lines[start...end] {
            XCTAssertTrue(line.hasPrefix("  "), "a line of the example starts at the left margin (wrapped): \(line)")
        }
        let example = lines[start...end].joined(separator: " ")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(example.utf8)) as? [String: Any], example)
        XCTAssertNotNil(object["ns_per_packet"])
    }

    /// A capture that is not Ethernet is named by its link type, as tcpdump names it.
    func testANonEthernetCaptureIsNamedByItsLinkType() throws {
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-raw-\(getpid()).pcap")
        try CaptureFileWriter.pcap([[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]], linkType: 101).write(to: capture)
        defer { try? FileManager.default.removeItem(at: capture) }
        for arguments in [["test", "rules/example.conf", capture.path], ["bench", "rules/example.conf", "--packets", capture.path]] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.standardError, "xdpfw: \(capture.path): link-type RAW (Raw IP) is not Ethernet (EN10MB); "
                           + "xdpfw filters Ethernet frames\n", "\(arguments)")
        }
    }
}
