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
}
