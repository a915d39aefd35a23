import Foundation
import XCTest

/// Runs the built `xdpfw` the way a script would and keeps what it printed and its status.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

enum CommandRunner {
    /// The `xdpfw` built beside the test bundle (`.build/<config>/xdpfw`).
    static var executable: URL {
        let directory = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
            ?? Bundle.main.bundleURL
        return directory.appendingPathComponent("xdpfw")
    }

    /// The package root, for rules/example.conf.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try run(executable, arguments, input: input, timeout: timeout)
    }

    static func run(_ executable: URL, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let output = Pipe(), error = Pipe(), standardInput = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
        try standardInput.fileHandleForWriting.close()
        // Read both pipes while the process runs, so a full pipe cannot stall it.
        nonisolated(unsafe) var outputData = Data(), errorData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outputData = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errorData = error.fileHandleForReading.readDataToEndOfFile() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw XCTSkip("xdpfw \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             standardOutput: String(decoding: outputData, as: UTF8.self),
                             standardError: String(decoding: errorData, as: UTF8.self))
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
