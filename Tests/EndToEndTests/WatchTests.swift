import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `xdpfw apply --watch` on the loopback of a test namespace: the rules follow the file through a
/// Kubernetes-style `..data` symlink swap, an edit in place, a rename over it and a change of a set
/// file beside it; a broken version is reported with file:line:column and the rules in force stay;
/// SIGTERM leaves them in force, or detaches them with --detach-on-exit.
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

        let watcher = try WatchProcess(quiet: quiet, arguments: ["apply", "--watch", folder.path("rules.conf"), "lo"])
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
        let counters = try quiet.counters(on: .a, hook: "xdp", settlingAt: 3, interface: "lo")
        XCTAssertEqual(counters[1][0], 3, "the program in force drops what the second version drops")

        // A broken version: reported where it is wrong, and the second version stays in force.
        try folder.writeVersion("..v3", rules: "policy pass\ndrop udp dst port nosuchservice\n")
        try folder.swapData(to: "..v3")
        try watcher.waitForError(containing: "rules.conf:2:")
        XCTAssertEqual(try watcher.rulesInForce(), second)
        XCTAssertTrue(watcher.errors().contains("not applied: the rules in force stay"), watcher.errors())

        // Fixed in place (the version folder's file rewritten): applied again, and the unchanged
        // rule keeps its counters as `apply` keeps them.
        let fourth = "policy drop\ndrop udp dst port 9998\npass tcp\n"
        try fourth.write(toFile: folder.path("..v3/rules.conf"), atomically: false, encoding: .utf8)
        try watcher.waitForRules(fourth)
        XCTAssertEqual(try quiet.counters(on: .a, hook: "xdp", interface: "lo")[1], counters[1], "rule 1's counters carried over")

        // SIGTERM: exit status 0, the rules stay attached.
        XCTAssertEqual(try watcher.terminate(), 0, watcher.errors())
        XCTAssertEqual(try watcher.state(), "attached")
        XCTAssertEqual(try watcher.rulesInForce(), fourth)
    }

    func testRenameOverTheFileASetFileChangeAndDetachOnExit() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = "drop icmp\n"
        try first.write(toFile: folder.path("lo.conf"), atomically: false, encoding: .utf8)

        let watcher = try WatchProcess(quiet: quiet, arguments: ["apply", "--watch", folder.path("lo.conf"), "lo", "--detach-on-exit"])
        defer { watcher.stop() }
        try watcher.waitForRules(first)

        // As editors and configuration management save: write a new file, rename it over the old.
        let second = "drop icmp\npass udp\n"
        try second.write(toFile: folder.path(".lo.conf.tmp"), atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(folder.path(".lo.conf.tmp"), folder.path("lo.conf")), 0)
        try watcher.waitForRules(second)

        // A set file beside it changes: applied again with the new entries (written out in the pins).
        try "80\n".write(toFile: folder.path("web.txt"), atomically: false, encoding: .utf8)
        let third = "set web file web.txt\npass tcp dst port @web\n"
        try third.write(toFile: folder.path("lo.conf"), atomically: false, encoding: .utf8)
        try watcher.waitForRules { $0.contains("pass tcp dst port @web") && $0.contains("80") && !$0.contains("8080") }
        try "80\n8080\n".write(toFile: folder.path("web.txt"), atomically: false, encoding: .utf8)
        try watcher.waitForRules { $0.contains("8080") }

        XCTAssertEqual(try watcher.terminate(), 0, watcher.errors())
        XCTAssertEqual(try watcher.state(), nil, "--detach-on-exit removes the rules")
    }

    func testAMissingFileEndsItAtOnce() throws {
        for (path, message) in [("/nonexistent-xdpfw.conf", "/nonexistent-xdpfw.conf: no such file"),
                                ("/nonexistent-xdpfw/lo.conf", "/nonexistent-xdpfw/lo.conf: no such file (the folder /nonexistent-xdpfw does not exist)")] {
            let result = try Xdpfw.run(["apply", "--watch", path, "lo"], timeout: 20)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.standardError, "xdpfw: \(message)\n")
        }
    }

    func testRefusesStandardInputAndDetachOnExitAlone() throws {
        for arguments in [["apply", "--watch", "-", "lo"], ["apply", "--detach-on-exit", "rules.conf", "lo"],
                          ["apply", "--watch", "--dry-run", "rules.conf", "lo"]] {
            let result = try Xdpfw.run(arguments, input: "")
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
        }
    }
}
