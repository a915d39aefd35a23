import Foundation
import XCTest
import DifferentialTesting
import Kernel
import Firewall

/// The verbs that load programs, as root: check, test, apply/stats/status/detach on a veth pair in
/// namespaces the test makes (and removes, also on failure). Skipped when not root.
final class KernelCommandTests: XCTestCase {
    override func setUpWithError() throws {
        guard CommandRunner.isRoot else { throw XCTSkip("needs root: loads BPF programs and creates network namespaces") }
    }

    func testCheckLoadsBothHooksThroughTheVerifier() throws {
        let result = try CommandRunner.run(["check", "rules/example.conf"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.hasPrefix("rules/example.conf: 4 rules, policy pass: OK"), result.standardOutput)
    }

    func testTestReportsTheDecidingRulePerPacket() throws {
        let traffic = DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                  sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2])
        let frames = [traffic.udp(destinationPort: 53), traffic.icmpEcho(payload: 56), traffic.icmpEcho(payload: 1200),
                      traffic.tcpSYN(destinationPort: 22, from: [192, 0, 2, 7]), traffic.tcpSYN(destinationPort: 22),
                      [UInt8](repeating: 1, count: 10), traffic.udp(destinationPort: 123)]
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-test-\(getpid()).pcap")
        try CaptureFileWriter.pcap(frames).write(to: capture)
        defer { try? FileManager.default.removeItem(at: capture) }
        for hook in ["xdp", "tc"] {
            let result = try CommandRunner.run(["test", "rules/example.conf", capture.path, "--json", "--hook", hook])
            XCTAssertEqual(result.status, 0, result.standardError)
            let lines = result.standardOutput.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines, [
                #"{"index": 0, "verdict": "drop", "rule": 3}"#,
                #"{"index": 1, "verdict": "pass", "rule": null}"#,
                #"{"index": 2, "verdict": "drop", "rule": 4}"#,
                #"{"index": 3, "verdict": "drop", "rule": 1}"#,
                #"{"index": 4, "verdict": "pass", "rule": null}"#,
                #"{"index": 5, "verdict": null, "rule": null, "error": "frame of 10 bytes is shorter than an Ethernet header"}"#,
                #"{"index": 6, "verdict": "drop", "rule": 3}"#,
            ], hook)
        }
    }

    /// `bench --packets` measures only the frames the kernel's test run takes whole, says on
    /// standard error how many it skipped, and refuses captures that are not Ethernet.
    func testBenchMeasuresOnlyTestableEthernetFrames() throws {
        let traffic = DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                  sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2])
        let udp = traffic.udp(destinationPort: 53)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let mixed = directory.appendingPathComponent("mixed.pcap")
        try CaptureFileWriter.pcap([udp, udp + [UInt8](repeating: 0, count: 5014 - udp.count), [UInt8](repeating: 1, count: 10)]).write(to: mixed)
        // XDP runs the 5,014-byte frame as a multi-buffer frame; TC's test run takes at most 3,712 bytes.
        for (hook, measured, skipped) in [("xdp", 2, "skipped 1 frame"), ("tc", 1, "skipped 2 frames")] {
            let result = try CommandRunner.run(["bench", "rules/example.conf", "--hook", hook, "--packets", mixed.path, "--repeat", "10", "--json"])
            XCTAssertEqual(result.status, 0, result.standardError)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            XCTAssertEqual(object["packets"] as? Int, measured, result.standardOutput)
            XCTAssertTrue(result.standardError.contains(skipped), result.standardError)
        }
        let raw = directory.appendingPathComponent("raw.pcap")
        try CaptureFileWriter.pcap([Array(udp.dropFirst(14))], linkType: 101).write(to: raw)
        let rawResult = try CommandRunner.run(["bench", "rules/example.conf", "--packets", raw.path, "--repeat", "10"])
        XCTAssertEqual(rawResult.status, 1)
        XCTAssertTrue(rawResult.standardError.contains("is not Ethernet"), rawResult.standardError)
        let missing = directory.appendingPathComponent("missing.pcap").path
        for arguments in [["bench", "rules/example.conf", "--packets", missing], ["test", "rules/example.conf", missing]] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.standardError.components(separatedBy: missing).count, 2, "the path once: \(result.standardError)")
        }
    }

    func testApplyStatsReplaceDetachInANamespace() throws {
        let network = try TestNetwork()
        defer { network.close() }
        let namespace = network.b.namespace, interface = network.b.interfaceName
        defer { try? FileManager.default.removeItem(atPath: PinDirectory.root(forNamespace: namespace)) }
        defer { _ = try? CommandRunner.run(["-n", namespace, "detach", interface]) }

        let applied = try CommandRunner.run(["-n", namespace, "apply", "rules/example.conf", interface])
        XCTAssertEqual(applied.status, 0, applied.standardError)
        XCTAssertTrue(applied.standardOutput.hasPrefix("attached rules/example.conf on \(interface) xdp"), applied.standardOutput)

        let traffic = DemoTraffic(sourceMAC: network.a.mac, destinationMAC: network.b.mac,
                                  sourceIPv4: DemoTraffic.ipv4Bytes(network.a.ipv4), destinationIPv4: DemoTraffic.ipv4Bytes(network.b.ipv4))
        try network.send([traffic.udp(destinationPort: 53)], from: .a, copies: 4)
        try network.send([traffic.icmpEcho(payload: 1200)], from: .a, copies: 2)
        try network.send([traffic.tcpSYN(destinationPort: 22, from: [192, 0, 2, 7])], from: .a, copies: 3)
        Thread.sleep(forTimeInterval: 0.3)

        let stats = try CommandRunner.run(["-n", namespace, "stats", interface, "--json"])
        XCTAssertEqual(stats.status, 0, stats.standardError)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(stats.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["interface"] as? String, interface)
        XCTAssertEqual(object["hook"] as? String, "xdp")
        let rules = try XCTUnwrap(object["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["rule"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(rules.map { $0["packets"] as? Int }, [3, 0, 4, 2])
        XCTAssertEqual(rules.map { $0["line"] as? Int }, [3, 4, 5, 7])

        // A broken rules file changes nothing: the program attached stays.
        let before = try CommandRunner.run(["-n", namespace, "status"]).standardOutput
        let broken = try CommandRunner.run(["-n", namespace, "apply", "-", interface], input: "drop tcp port nosuchservice\n")
        XCTAssertEqual(broken.status, 1)
        XCTAssertEqual(try CommandRunner.run(["-n", namespace, "status"]).standardOutput, before)
        // So does empty input: a generator that failed and printed nothing (issue 9, item 2).
        for input in ["", "\n# generated: nothing\n"] {
            let empty = try CommandRunner.run(["-n", namespace, "apply", "-", interface], input: input)
            XCTAssertEqual(empty.status, 1, empty.standardOutput)
            XCTAssertTrue(empty.standardError.hasPrefix("xdpfw: <stdin>: no rules and no policy"), empty.standardError)
            XCTAssertEqual(try CommandRunner.run(["-n", namespace, "status"]).standardOutput, before)
        }

        // Changing the XDP mode would mean a moment without rules: refused, nothing changes.
        let other = before.contains("native") ? "generic" : "native"
        let mode = try CommandRunner.run(["-n", namespace, "apply", "rules/example.conf", interface, "--mode", other])
        XCTAssertEqual(mode.status, 1)
        XCTAssertTrue(mode.standardError.contains("detach"), mode.standardError)
        XCTAssertEqual(try CommandRunner.run(["-n", namespace, "status"]).standardOutput, before)

        // A good one replaces it, with fresh counters.
        let replaced = try CommandRunner.run(["-n", namespace, "apply", "-", interface], input: "policy drop\npass arp or icmp\n")
        XCTAssertEqual(replaced.status, 0, replaced.standardError)
        XCTAssertTrue(replaced.standardOutput.hasPrefix("replaced <stdin> on \(interface) xdp"), replaced.standardOutput)
        let table = try CommandRunner.run(["-n", namespace, "stats"])
        XCTAssertTrue(table.standardOutput.contains("\(interface) xdp: <stdin>, 1 rule, policy drop"), table.standardOutput)

        let detached = try CommandRunner.run(["-n", namespace, "detach", interface])
        XCTAssertEqual(detached.status, 0, detached.standardError)
        XCTAssertEqual(detached.standardOutput, "detached \(interface) xdp\n")
        XCTAssertEqual(try CommandRunner.run(["-n", namespace, "detach", interface]).status, 1)
        XCTAssertEqual(try CommandRunner.run(["-n", namespace, "status"]).standardOutput, "no xdpfw rules attached\n")
    }

    func testUnknownInterfaceAndNamespaceFailCleanly() throws {
        let interface = try CommandRunner.run(["apply", "rules/example.conf", "nosuch0"])
        XCTAssertEqual(interface.status, 1)
        XCTAssertEqual(interface.standardError, "xdpfw: unknown interface 'nosuch0' (see `ip link`)\n")
        let namespace = try CommandRunner.run(["-n", "xdpfw-no-such-namespace", "status"])
        XCTAssertEqual(namespace.status, 1)
        XCTAssertTrue(namespace.standardError.hasPrefix("xdpfw: network namespace 'xdpfw-no-such-namespace' not found"))
    }

    /// The tour shows `apply ... lo` (generic mode: lo has no native XDP) and `detach lo`, with
    /// counters for what it sent to 127.0.0.1, and leaves no namespace or pin behind.
    func testDemoAppliesAndDetachesOnTheLoopback() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "needs root: the demo creates network namespaces and attaches XDP programs")
        let demo = try CommandRunner.run(["demo"])
        XCTAssertEqual(demo.status, 0, demo.standardError)
        let output = demo.standardOutput
        XCTAssertTrue(output.contains("apply rules/example.conf lo\nxdpfw: native XDP refused on lo"), output)
        XCTAssertTrue(output.contains("attached rules/example.conf on lo xdp (generic mode): 4 rules"), output)
        let table = output.components(separatedBy: "stats lo\n").last ?? ""
        func packets(ofRule rule: Int) -> Int? {
            let row = table.split(separator: "\n").first { $0.split(separator: " ").first == Substring(String(rule)) }
            return row.flatMap { Int($0.split(separator: " ")[3]) }
        }
        // 2 SYNs to port 80 and the 2 resets they get, 2 DNS datagrams, 2 large pings.
        XCTAssertEqual([2, 3, 4].map(packets(ofRule:)), [4, 2, 2], table)
        XCTAssertTrue(output.contains("detach lo\ndetached lo xdp\n"), output)
        let namespaces = try FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory)
        XCTAssertFalse(namespaces.contains { $0.contains("-\(demoProcessID(output) ?? -1)-") }, "\(namespaces)")
        XCTAssertFalse(output.contains("xdpfw: ") && output.contains("failed"), output)
    }

    /// The process id in the demo's namespace names (`xdpfw-PID-N-a`).
    private func demoProcessID(_ output: String) -> Int? {
        guard let range = output.range(of: "xdpfw-") else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    func testInterruptedDemoRemovesItsNamespaces() throws {
        for delay in [0.2, 0.6] {
            let process = Process()
            process.executableURL = CommandRunner.executable
            process.arguments = ["demo"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            XCTAssertTrue([0, 128 + SIGINT].contains(process.terminationStatus), "status \(process.terminationStatus)")
            let namespaces = try FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory)
            XCTAssertFalse(namespaces.contains { $0.hasPrefix("xdpfw-\(process.processIdentifier)-") }, "\(namespaces)")
        }
    }
}
