import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `xdpfw exporter` scraped by a real Prometheus server (Debian's prometheus), both inside a
/// test namespace: a PromQL query returns the counters `stats --json` shows. SIGTERM stops the
/// exporter with status 0.
final class ExporterTests: XCTestCase {
    func testPrometheusScrapesTheCounters() throws {
        try EndToEnd.requireRoot()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw XCTSkip("prometheus (Debian package, installed by scripts/setup) is missing")
        }
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let namespace = quiet.network.a.namespace
        try quiet.apply("policy pass\ndrop icmp\ndrop udp dst port 9999\n", on: .a, hook: "xdp", interface: "lo")
        try quiet.network.run(in: .a) {
            try LoopbackTraffic.ping(count: 2)
            try LoopbackTraffic.sendUDP(count: 5, size: 30, to: 9999)
        }
        let counters = try quiet.counters(on: .a, hook: "xdp", settlingAt: 7, interface: "lo")
        XCTAssertEqual(counters.map { $0[0] }, [0, 2, 5])

        let exporter = Process()
        exporter.executableURL = ProcessRun.builtXdpfw
        exporter.arguments = ["-n", namespace, "exporter", "--listen", "127.0.0.1:9630"]
        let exporterErrors = Pipe()
        exporter.standardError = exporterErrors
        try exporter.run()
        defer { if exporter.isRunning { exporter.terminate() } }

        let storage = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-prometheus-\(getpid())")
        try FileManager.default.createDirectory(at: storage, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: storage) }
        let config = storage.appendingPathComponent("prometheus.yml")
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: xdpfw
                static_configs: [{targets: ['127.0.0.1:9630']}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        prometheus.arguments = ["netns", "exec", namespace, "/usr/bin/prometheus", "--config.file=\(config.path)",
                                "--storage.tsdb.path=\(storage.path)/data", "--web.listen-address=127.0.0.1:9090"]
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = FileHandle.nullDevice
        try prometheus.run()
        defer { if prometheus.isRunning { prometheus.terminate(); prometheus.waitUntilExit() } }

        // Ask until the scraped values are there (Prometheus starts, then scrapes every second).
        var answer = ""
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline {
            let query = try ProcessRun.run(URL(fileURLWithPath: "/usr/sbin/ip"),
                                           ["netns", "exec", namespace, "promtool", "query", "instant", "http://127.0.0.1:9090",
                                            "xdpfw_rule_packets_total"], timeout: 10)
            answer = query?.standardOutput ?? ""
            if answer.contains("rule=\"2\"") { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        for (rule, packets) in [(1, counters[1][0]), (2, counters[2][0])] {
            let line = answer.split(separator: "\n").first { $0.contains("rule=\"\(rule)\"") }.map(String.init) ?? ""
            XCTAssertTrue(line.contains("=> \(packets) @"), "rule \(rule): \(answer)")
        }

        exporter.terminate()  // SIGTERM
        exporter.waitUntilExit()
        XCTAssertEqual(exporter.terminationReason, .exit)
        XCTAssertEqual(exporter.terminationStatus, 0)
        let said = String(decoding: exporterErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(said, "xdpfw: serving metrics on http://127.0.0.1:9630/metrics\n")
    }
}
