import Foundation
import XCTest

/// What the verbs do with the input they are given (issue 9): empty input, rules files that are
/// streams, hostile bytes in error messages. Runs the built binary; needs no root (every case
/// fails, or succeeds, before anything is loaded into the kernel).
final class InputTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-input-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Item 2: nothing to apply is an error, for standard input and for files, before any kernel work.
    func testEmptyInputIsAnError() throws {
        for input in ["", "   \n\n", "# the generator failed\n"] {
            let result = try CommandRunner.run(["check", "-"], input: input)
            XCTAssertEqual(result.status, 1, input.debugDescription)
            XCTAssertEqual(result.standardOutput, "")
            XCTAssertTrue(result.standardError.hasPrefix("xdpfw: <stdin>: no rules and no policy"), result.standardError)
        }
        let path = try file("empty.conf", "# nothing yet\n")
        for arguments in [["check", path], ["compile", "-d", "-f", path], ["compile", "--ebpf", "-f", path]] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.standardError.hasPrefix("xdpfw: \(path): no rules and no policy"), "\(arguments): \(result.standardError)")
        }
    }

    /// Item 4: a rules file, and a set's file, may be any stream that can be read: `/dev/stdin`,
    /// a shell's `<(generate)`, a FIFO. Each listing is compared with the same rule written inline.
    func testRulesAndSetFilesMayBeStreams() throws {
        let udp = try CommandRunner.run(["compile", "-d", "udp"])
        XCTAssertEqual(udp.status, 0, udp.standardError)

        let stdin = try CommandRunner.run(["compile", "-d", "-f", "/dev/stdin"], input: "drop udp\n")
        XCTAssertEqual(stdin.status, 0, stdin.standardError)
        XCTAssertEqual(stdin.standardOutput, "# rule 1 (line 1): drop udp\n" + udp.standardOutput)

        let xdpfw = CommandRunner.executable.path
        let substituted = try CommandRunner.run(URL(fileURLWithPath: "/bin/bash"),
                                                ["-c", #""$0" compile -d -f <(printf 'drop udp\n') udp"#, xdpfw])
        XCTAssertEqual(substituted.status, 0, substituted.standardError)
        XCTAssertEqual(substituted.standardOutput, udp.standardOutput)

        // The writer gives up after 10 s if xdpfw never opens the FIFO, so the test cannot hang.
        let fifo = directory.appendingPathComponent("rules.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let script = #"timeout 10 sh -c 'printf "drop udp\n" > "$1"' _ "$1" & "$0" compile -d -f "$1" udp; status=$?; wait; exit $status"#
        let piped = try CommandRunner.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, xdpfw, fifo], timeout: 30)
        XCTAssertEqual(piped.status, 0, piped.standardError)
        XCTAssertEqual(piped.standardOutput, udp.standardOutput)

        let rules = try file("sets.conf", "set s file /dev/stdin\ndrop src net @s\n")
        let set = try CommandRunner.run(["compile", "-d", "-f", rules, "src net @s"], input: "10.0.0.0/8\n192.0.2.1\n")
        XCTAssertEqual(set.status, 0, set.standardError)
        XCTAssertEqual(set.standardOutput, try CommandRunner.run(["compile", "-d", "src net 10.0.0.0/8 or 192.0.2.1"]).standardOutput)
    }
}
