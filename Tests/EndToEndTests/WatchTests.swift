import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `xdpfw apply --watch` on the loopback of a test namespace: the rules follow the file through a
/// Kubernetes-style `..data` symlink swap, an edit in place and a rename over it; a broken
/// version is reported with file:line:column and the rules in force stay; SIGTERM leaves them in
/// force, or detaches them with --detach-on-exit.
final class WatchTests: XCTestCase {
    func testFollowsConfigMapSymlinkSwapsKeepsRulesOnErrorsAndOnSIGTERM() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // A ConfigMap volume: rules.conf -> ..data/rules.conf, ..data -> ..v1.
        let first = "policy pass\n# first version\ndrop udp dst port 9999\n"
        try folder.writeVersion("..v1", rules: first)
        try folder.symlink("..data", to: "..v1")
        try folder.symlink("rules.conf", to: "..data/rules.conf")

        let watcher = try WatchProcess(quiet: quiet, file: folder.path("rules.conf"), options: [])
        defer { watcher.stop() }
        try watcher.waitForRules(first)
        XCTAssertEqual(try watcher.state(), "attached")

        // The swap: a new version folder, a new symlink renamed over ..data, the old folder removed.
        let second = "policy pass\ndrop udp dst port 9998\ndrop icmp\n"
        try folder.writeVersion("..v2", rules: second)
        try folder.swapData(to: "..v2")
        try folder.remove("..v1")
        try watcher.waitForRules(second)
        try quiet.network.run(in: .a) { try LoopbackTraffic.sendUDP(count: 3, size: 30, to: 9998) }
        XCTAssertEqual(try quiet.counters(on: .a, hook: "xdp", settlingAt: 3, interface: "lo")[1][0], 3,
                       "the program in force drops what the second version drops")

        // A broken version: reported where it is wrong, and the second version stays in force.
        try folder.writeVersion("..v3", rules: "policy pass\ndrop udp dst port nosuchservice\n")
        try folder.swapData(to: "..v3")
        try watcher.waitForError(containing: "rules.conf:2:")
        XCTAssertEqual(try watcher.rulesInForce(), second)
        XCTAssertTrue(watcher.errors().contains("not applied: the rules in force stay"), watcher.errors())

        // Fixed in place (the version folder's file rewritten): applied again.
        let fourth = "policy drop\n"
        try fourth.write(toFile: folder.path("..v3/rules.conf"), atomically: false, encoding: .utf8)
        try watcher.waitForRules(fourth)

        // SIGTERM: exit status 0, the rules stay attached.
        XCTAssertEqual(try watcher.terminate(), 0, watcher.errors())
        XCTAssertEqual(try watcher.state(), "attached")
        XCTAssertEqual(try watcher.rulesInForce(), fourth)
    }

    func testRenameOverTheFileAndDetachOnExit() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = "drop icmp\n"
        try first.write(toFile: folder.path("lo.conf"), atomically: false, encoding: .utf8)

        let watcher = try WatchProcess(quiet: quiet, file: folder.path("lo.conf"), options: ["--detach-on-exit"])
        defer { watcher.stop() }
        try watcher.waitForRules(first)

        // As editors and configuration management save: write a new file, rename it over the old.
        let second = "drop icmp\npass udp\n"
        try second.write(toFile: folder.path(".lo.conf.tmp"), atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(folder.path(".lo.conf.tmp"), folder.path("lo.conf")), 0)
        try watcher.waitForRules(second)

        XCTAssertEqual(try watcher.terminate(), 0, watcher.errors())
        XCTAssertEqual(try watcher.state(), nil, "--detach-on-exit removes the rules")
    }

    func testRefusesStandardInputAndDetachOnExitAlone() throws {
        for arguments in [["apply", "--watch", "-", "lo"], ["apply", "--detach-on-exit", "rules.conf", "lo"],
                          ["apply", "--watch", "--dry-run", "rules.conf", "lo"]] {
            let result = try Xdpfw.run(arguments, input: "")
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
        }
    }
}

/// A folder under the temporary directory, removed by the test.
private struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-watch-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func writeVersion(_ version: String, rules: String) throws {
        try FileManager.default.createDirectory(atPath: path(version), withIntermediateDirectories: true)
        try rules.write(toFile: path(version + "/rules.conf"), atomically: false, encoding: .utf8)
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

/// `xdpfw -n NS apply --watch FILE lo` running in the background, its output in files.
private final class WatchProcess {
    let quiet: QuietNetwork
    let process = Process()
    let errorFile: URL
    static let patience: TimeInterval = 15

    init(quiet: QuietNetwork, file: String, options: [String]) throws {
        self.quiet = quiet
        errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-watch-\(getpid())-\(UUID().uuidString.prefix(8)).err")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.executableURL = ProcessRun.builtXdpfw
        process.arguments = ["-n", quiet.network.a.namespace, "apply", "--watch", file, "lo"] + options
        process.standardOutput = FileHandle.nullDevice
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
        XCTFail("waited \(Self.patience) s for: \(what); running: \(process.isRunning); it said: \(errors())")
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
