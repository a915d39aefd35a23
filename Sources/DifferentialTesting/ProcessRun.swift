import Foundation

/// Runs a program to completion the way a script would, keeping what it printed and its status.
/// Both pipes are read while it runs, so a full pipe cannot stall it.
public struct ProcessRun: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String

    /// Nil when the program did not finish within `timeout` seconds (it is terminated then).
    public static func run(_ executable: URL, _ arguments: [String], input: String? = nil, directory: URL? = nil,
                           timeout: TimeInterval = 60) throws -> ProcessRun? {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe(), error = Pipe(), standardInput = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
        try standardInput.fileHandleForWriting.close()
        nonisolated(unsafe) var outputData = Data(), errorData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outputData = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errorData = error.fileHandleForReading.readDataToEndOfFile() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            return nil
        }
        process.waitUntilExit()
        return ProcessRun(status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
                          standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// The `xdpfw` built beside the test bundle (`.build/<config>/xdpfw`).
    public static var builtXdpfw: URL {
        let directory = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
            ?? Bundle.main.bundleURL
        return directory.appendingPathComponent("xdpfw")
    }
}
