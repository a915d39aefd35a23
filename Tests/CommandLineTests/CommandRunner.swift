import DifferentialTesting
import Foundation
import XCTest

/// Runs the built `xdpfw` the way a script would and keeps what it printed and its status.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// A command that did not finish in time: a hang is a failure, not a skip.
struct CommandTimeout: Error, CustomStringConvertible {
    var arguments: [String]
    var timeout: TimeInterval
    var description: String { "\(arguments.joined(separator: " ")) did not finish in \(timeout) s" }
}

enum CommandRunner {
    /// The `xdpfw` built beside the test bundle (`.build/<config>/xdpfw`).
    static var executable: URL { ProcessRun.builtXdpfw }

    /// The package root, for rules/example.conf.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try run(executable, arguments, input: input, timeout: timeout)
    }

    static func run(_ executable: URL, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        guard let result = try ProcessRun.run(executable, arguments, input: input, directory: packageRoot, timeout: timeout) else {
            throw CommandTimeout(arguments: [executable.lastPathComponent] + arguments, timeout: timeout)
        }
        return CommandResult(status: result.status, standardOutput: result.standardOutput, standardError: result.standardError)
    }

    /// tcpdump's standard output for the same arguments, nil when tcpdump is not installed.
    static func tcpdump(_ arguments: [String]) throws -> CommandResult? {
        guard let path = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        return try run(URL(fileURLWithPath: path), arguments)
    }

    static var isRoot: Bool { getuid() == 0 }
}
