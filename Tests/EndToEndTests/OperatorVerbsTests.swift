import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `xdpfw metrics` and `xdpfw show` read what `apply` pinned: the metrics carry the same values
/// as `stats --json` and pass `promtool check metrics`; `show` prints the rules file as applied,
/// with live set changes in it, and its output applies again.
final class OperatorVerbsTests: XCTestCase {
    static let rules = """
        # counted on the loopback
        set web { 80, 443 }
        policy pass
        drop icmp
        drop udp dst port 9999
        pass tcp dst port @web

        """

    func testMetricsEqualStatsAndPassPromtool() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let namespace = quiet.network.a.namespace
        let before = Date().timeIntervalSince1970
        try quiet.apply(Self.rules, on: .a, hook: "xdp", interface: "lo")
        try quiet.network.run(in: .a) {
            try LoopbackTraffic.ping(count: 3)
            try LoopbackTraffic.sendUDP(count: 4, size: 50, to: 9999)
            try LoopbackTraffic.sendUDP(count: 2, size: 50, to: 9998)
        }
        let counters = try quiet.counters(on: .a, hook: "xdp", settlingAt: 11, interface: "lo")
        let metrics = try Xdpfw.run(["-n", namespace, "metrics"])
        XCTAssertEqual(metrics.status, 0, metrics.standardError)
        let samples = Self.samples(metrics.standardOutput)
        let hook = "interface=\"lo\",hook=\"xdp\""
        for (index, verdict) in ["drop", "drop", "pass"].enumerated() {
            let labels = "\(hook),rule=\"\(index + 1)\",line=\"\(index + 4)\",verdict=\"\(verdict)\""
            XCTAssertEqual(samples["xdpfw_rule_packets_total{\(labels)}"], Double(counters[index + 1][0]), labels)
            XCTAssertEqual(samples["xdpfw_rule_bytes_total{\(labels)}"], Double(counters[index + 1][1]), labels)
        }
        XCTAssertEqual(counters[1][0], 5, "3 echo requests (dropped: no reply) and 2 port unreachables for port 9998")
        XCTAssertEqual(counters[2][0], 4)
        XCTAssertEqual(samples["xdpfw_policy_packets_total{\(hook),verdict=\"pass\"}"], Double(counters[0][0]))
        XCTAssertEqual(samples["xdpfw_policy_bytes_total{\(hook),verdict=\"pass\"}"], Double(counters[0][1]))
        XCTAssertEqual(samples["xdpfw_rule_info{\(hook),rule=\"3\",expression=\"tcp dst port @web\"}"], 1)
        XCTAssertEqual(samples["xdpfw_ruleset_rules{\(hook)}"], 3)
        XCTAssertEqual(samples["xdpfw_ruleset_attached{\(hook)}"], 1)
        XCTAssertEqual(samples["xdpfw_set_entries{\(hook),set=\"web\"}"], 2)
        let applied = try XCTUnwrap(samples["xdpfw_ruleset_applied_timestamp_seconds{\(hook)}"])
        XCTAssertTrue(applied >= before - 2 && applied <= Date().timeIntervalSince1970 + 2, "applied at \(applied), test began \(before)")

        guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("promtool (Debian package prometheus, installed by scripts/setup) is missing: the exposition format was not checked")
        }
        let check = try XCTUnwrap(try ProcessRun.run(URL(fileURLWithPath: promtool), ["check", "metrics"],
                                                     input: metrics.standardOutput, timeout: 30))
        XCTAssertEqual(check.status, 0, check.standardOutput + check.standardError)
    }

    func testShowPrintsTheRulesAsAppliedAndTheyApplyAgain() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let namespace = quiet.network.a.namespace
        try quiet.apply(Self.rules, on: .a, hook: "tc-ingress", interface: "lo")
        let shown = try Xdpfw.run(["-n", namespace, "show", "lo"])
        XCTAssertEqual(shown.status, 0, shown.standardError)
        let lines = shown.standardOutput.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].hasPrefix("# lo tc-ingress: <stdin>, applied "), String(lines[0]))
        XCTAssertTrue(lines[0].hasSuffix(", attached"), String(lines[0]))
        XCTAssertEqual(String(lines[1]), Self.rules)

        // A live set change is in force: show has it.
        let added = try Xdpfw.run(["-n", namespace, "set", "add", "lo", "web", "8080"])
        XCTAssertEqual(added.status, 0, added.standardError)
        let changed = try Xdpfw.run(["-n", namespace, "show", "lo", "--hook", "tc-ingress"]).standardOutput
        XCTAssertTrue(changed.contains("8080"), changed)

        // What show prints is a rules file.
        let again = try Xdpfw.run(["-n", namespace, "apply", "-", "lo", "--hook", "tc-ingress"], input: changed)
        XCTAssertEqual(again.status, 0, again.standardError)
        XCTAssertTrue(again.standardOutput.hasPrefix("replaced <stdin> on lo tc-ingress: 3 rules"), again.standardOutput)

        for verb in [["show", "lo", "--hook", "xdp"], ["show", "nosuch0"], ["metrics", "nosuch0"]] {
            let missing = try Xdpfw.run(["-n", namespace] + verb)
            XCTAssertEqual(missing.status, 1, "\(verb)")
            XCTAssertTrue(missing.standardError.contains("has no xdpfw rules"), missing.standardError)
        }
    }

    /// `name{labels} value` lines of a text exposition, by everything before the value.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
