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

    /// What a terminal would act on: C0 controls but newline and tab, DEL, C1 controls.
    private func controlBytes(_ data: Data) -> [UInt8] {
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(Array(text.utf8), Array(data), "standard error is UTF-8")
        return text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) }
            .map { UInt8(truncatingIfNeeded: $0.value) }
    }

    /// Item 5: control characters and bytes that are not UTF-8 are shown escaped in every
    /// message: in the line under the message, in the words it quotes, in file names.
    func testErrorsShowHostileBytesEscaped() throws {
        let hostile: [UInt8] = Array("\u{1b}[2J\u{1b}]0;owned\u{07}".utf8)
        let rules = Array("policy drop # ".utf8) + hostile + [0xff, 0x0a]
            + Array("drop tcp port 22 and ".utf8) + hostile + [0x0a]
            + Array("drop host caf".utf8) + [0xe9, 0x9b] + Array(" # latin-1, and a C1 CSI\n".utf8)
            + Array("set s { 10.0.0.1, ".utf8) + hostile + Array(" }\ndrop src host @s\n".utf8)
        let path = directory.appendingPathComponent("hostile.conf").path
        try Data(rules).write(to: URL(fileURLWithPath: path))
        for arguments in [["check", path], ["compile", "-d", "-f", path]] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(controlBytes(Data(result.standardError.utf8)), [], "\(arguments): \(result.standardError.debugDescription)")
            XCTAssertTrue(result.standardError.contains(#"\x1b[2J\x1b]0;owned\x07"#), result.standardError)
            XCTAssertTrue(result.standardError.contains(#"caf\xe9\x9b"#), "undecodable bytes as bytes: \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(":2:"), "the rule's own line: \(result.standardError)")
        }
        let expression = try CommandRunner.run(["compile", "-d", "tcp and \u{1b}]0;owned\u{07}"])
        XCTAssertEqual(expression.status, 1)
        XCTAssertEqual(controlBytes(Data(expression.standardError.utf8)), [], expression.standardError.debugDescription)
        let named = try CommandRunner.run(["check", "/nonexistent/\u{1b}[2J.conf"])
        XCTAssertEqual(named.standardError, "xdpfw: /nonexistent/\\x1b[2J.conf: no such file\n")
        let option = try CommandRunner.run(["check", "--hook", "\u{1b}[2J", "r.conf"])
        XCTAssertEqual(option.status, 2)
        XCTAssertEqual(controlBytes(Data(option.standardError.utf8)), [], option.standardError.debugDescription)
    }

    /// Item 5: a huge line is shown as a window around the caret, and the caret is under the
    /// mistake in it (found here by the mistake's own text).
    func testALongLineIsShownAroundTheCaret() throws {
        let huge = try CommandRunner.run(["check", "-"], input: "drop " + String(repeating: "x", count: 1_400_000) + " and tcp\n")
        XCTAssertEqual(huge.status, 1)
        XCTAssertLessThan(huge.standardError.utf8.count, 2000, "a 1.4 MB line: \(huge.standardError.prefix(300))")
        let hosts = (0..<3000).map { "10.\($0 / 65536).\($0 / 256 % 256).\($0 % 256)" }
        for (at, mistake) in [(0, "10.0.0.999"), (1500, "10.0.0.999"), (2999, "10.0.0.999"), (3000, "10.0.0.999"), (2000, "nosuch\u{1b}host")] {
            var terms = hosts
            terms.insert(mistake, at: at)
            let text = "drop host " + terms.joined(separator: " or ") + "\n"
            let result = try CommandRunner.run(["check", "-"], input: text)
            XCTAssertEqual(result.status, 1)
            XCTAssertLessThan(result.standardError.utf8.count, 2000, "\(at): \(result.standardError.prefix(300))")
            let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(lines.count, 4, result.standardError)  // message, excerpt, caret, and the final newline
            guard lines.count == 4 else { continue }
            XCTAssertLessThanOrEqual(lines[1].count, 122, lines[1])
            // The caret underlines (part of) the mistake, or the `host` primitive it is in.
            let shown = TerminalTextShown(mistake)
            let caret = try XCTUnwrap(lines[2].firstIndex(of: "^"))
            let column = lines[2].distance(from: lines[2].startIndex, to: caret)
            let underlined = String(lines[1].dropFirst(column).prefix(lines[2].count - column))
            let mistakeRange = try XCTUnwrap(lines[1].range(of: shown), "\(at): the mistake is shown: \(lines[1])")
            let mistakeColumn = lines[1].distance(from: lines[1].startIndex, to: mistakeRange.lowerBound)
            XCTAssertTrue(("host " + shown).contains(underlined) && (mistakeColumn - 5..<mistakeColumn + shown.count).contains(column),
                          "\(at): caret under '\(shown)':\n\(lines[1])\n\(lines[2])")
        }
    }

    /// How a mistake's text is shown in a message: control characters escaped.
    private func TerminalTextShown(_ text: String) -> String { text.replacingOccurrences(of: "\u{1b}", with: #"\x1b"#) }
}
