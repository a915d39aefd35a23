import Foundation
import XCTest
import DifferentialTesting

/// A folder under the temporary directory, removed by the test.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-watch-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// A ConfigMap version folder holding one file.
    func writeVersion(_ version: String, name: String = "rules.conf", rules: String) throws {
        try FileManager.default.createDirectory(atPath: path(version), withIntermediateDirectories: true)
        try rules.write(toFile: path(version + "/" + name), atomically: false, encoding: .utf8)
    }

    func symlink(_ name: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path(name), withDestinationPath: target)
    }

    /// What the kubelet does: `..data_tmp -> version`, renamed over `..data`.
    func swapData(to version: String) throws {
        try symlink("..data_tmp", to: version)
        XCTAssertEqual(rename(path("..data_tmp"), path("..data")), 0)
    }

    func remove(_ name: String) throws { try FileManager.default.removeItem(atPath: path(name)) }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// `xdpfw -n NS ARGUMENTS...` (`apply --watch`, `exporter`) running in the background in the test
/// network's namespace a, its standard error in a file; `show`/`status` of that namespace's lo.
final class WatchProcess {
    let quiet: QuietNetwork
    let process = Process()
    let errorFile: URL
    static let patience: TimeInterval = 15

    /// `runner`: a program that runs xdpfw, with its options (e.g. `setpriv --bounding-set=...`).
    /// `standardOutput`: where its output goes (default: nowhere).
    init(quiet: QuietNetwork, arguments: [String], runner: [String] = [], standardOutput: FileHandle? = nil) throws {
        self.quiet = quiet
        errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-watch-\(getpid())-\(UUID().uuidString.prefix(8)).err")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else { throw Xdpfw.Failure(description: "cannot create \(errorFile.path)") }
        let command = runner + [ProcessRun.builtXdpfw.path, "-n", quiet.network.a.namespace] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = standardOutput ?? FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
    }

    var namespace: String { quiet.network.a.namespace }

    func errors() -> String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The rules text `show` prints under its heading, nil when nothing is attached.
    func rulesInForce() throws -> String? {
        let shown = try Xdpfw.run(["-n", namespace, "show", "lo"])
        guard shown.status == 0 else { return nil }
        return shown.standardOutput.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first
            .map { String($0) }
    }

    /// `state` of lo's xdp hook in `status --json`, nil when it has no pins.
    func state() throws -> String? {
        let status = try Xdpfw.run(["-n", namespace, "status", "--json"])
        let objects = try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [[String: Any]] ?? []
        return objects.first { $0["interface"] as? String == "lo" && $0["hook"] as? String == "xdp" }?["state"] as? String
    }

    func waitForRules(_ rules: String) throws {
        try waitUntil("the rules in force are \(rules.debugDescription)") { try self.rulesInForce() == rules }
    }

    /// Until the rules `show` prints pass `test` (sets read from files are written out there).
    func waitForRules(_ test: @escaping (String) -> Bool) throws {
        try waitUntil("the rules in force (\(try rulesInForce() ?? "none") at first) to change as expected") { try self.rulesInForce().map(test) ?? false }
    }

    func waitForError(containing text: String) throws {
        try waitUntil("standard error says \(text.debugDescription)") { self.errors().contains(text) }
    }

    /// Polls, bounded: a watcher that never gets there fails the test, with what it said.
    private func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(Self.patience)
        while Date() < deadline {
            if try condition() { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if try condition() { return }
        let why = process.isRunning ? "still not after \(Self.patience) s" : "xdpfw exited (status \(process.terminationStatus))"
        XCTFail("\(why), waiting for: \(what); it said: \(errors())")
        throw Xdpfw.Failure(description: what)
    }

    /// SIGTERM, then its exit status (nil if it did not exit in time, after killing it).
    func terminate() throws -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(Self.patience)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else { stop(); return nil }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// Kills it if it still runs; removes its output file.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: errorFile)
    }
}
