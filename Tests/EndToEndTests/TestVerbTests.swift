import Foundation
import XCTest
import ClassicBPF
import DifferentialTesting
import EBPF
import FilterCompiler
import Kernel

/// `xdpfw test RULES PCAP --json` at both hooks: for every frame the verdict and the deciding rule
/// equal libpcap's first match (wire length = captured length), and frames the kernel cannot
/// test-run are reported as not run.
final class TestVerbTests: XCTestCase {
    /// Every corpus expression both libpcap and xdpfw compile (leaving out the ones whose libpcap
    /// program uses Linux metadata loads, which `bpf_filter` cannot answer).
    static func corpusExpressions() -> [String] {
        var seen = Set<String>()
        return Corpus.acceptedExpressions.map { $0.text.replacingOccurrences(of: "\n", with: " ") }
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && seen.insert($0).inserted }
            .filter { expression in
                guard case let .success(classic) = Libpcap.compile(expression, optimize: true),
                      let lifted = ClassicLifter.lift(classic), !lifted.usesAncillaryData else { return false }
                return (try? FilterCompiler.compile(expression)) != nil
            }
    }

    /// Frames the kernel cannot test-run: too short, or longer than its test run takes at the hook.
    static func edgeFrames() -> [[UInt8]] {
        func udp(_ size: Int) -> [UInt8] {
            let header = PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(protocol: 17,
                                                PacketBuilder.udp(source: 1, destination: 53, Array(repeating: 0x5a, count: size - 42))))
            return header
        }
        return [Array(repeating: 1, count: 10), Array(repeating: 0xff, count: 13), udp(14 + 28 + 8)]
            + [3519, 3520, 3521, 3712, 3713, 5000, 9000, 65000].map(udp)
    }

    func testVerdictAndDecidingRuleEqualLibpcapsFirstMatchAtBothHooks() throws {
        try EndToEnd.requireRoot()
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        var started = Date()
        let expressions = Self.corpusExpressions()
        print("corpus expressions compiled by libpcap and xdpfw: \(expressions.count) in " + String(format: "%.1f s", Date().timeIntervalSince(started)))
        XCTAssertGreaterThan(expressions.count, 200, "most corpus expressions take part")
        var distinct = Set<[UInt8]>()
        let frames = (PacketCatalog.frames.map(\.bytes) + Corpus.captures.packets.prefix(2500).map(\.packet.bytes) + Self.edgeFrames())
            .filter { distinct.insert($0).inserted }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-e2e-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("frames.pcap")
        try CaptureFileWriter.pcap(frames).write(to: capture)

        // Three orders, so that late rules get to decide too: as listed, reversed, scrambled.
        let count = expressions.count
        let orders: [(name: String, order: [Int], policy: Verdict)] = [
            ("listed", Array(0..<count), .pass),
            ("reversed", Array((0..<count).reversed()), .drop),
            ("scrambled", (0..<count).sorted { ($0 &* 2_654_435_761) & 0xffff_ffff < ($1 &* 2_654_435_761) & 0xffff_ffff }, .pass),
        ]
        var decidingRules = Set<String>()
        for (name, order, policy) in orders {
            let ruleset = try LibpcapRuleset(order.enumerated().map { (expressions[$1], $0 % 3 == 1 ? .pass : .drop) })
            let rules = directory.appendingPathComponent("\(name).conf")
            try ruleset.rulesText(policy: policy).write(to: rules, atomically: true, encoding: .utf8)
            started = Date()
            let slots = frames.map(ruleset.slot(for:))
            print("libpcap's first match, \(name) ruleset: " + String(format: "%.1f s", Date().timeIntervalSince(started)))
            for (hook, limit) in [("xdp", Hook.Kind.xdp.testRunFrameLimit), ("tc", Hook.Kind.tc.testRunFrameLimit)] {
                let started = Date()
                let result = try Xdpfw.run(["test", rules.path, capture.path, "--json", "--hook", hook], timeout: 240)
                print("xdpfw test, \(name) ruleset (\(count) rules) at \(hook): \(frames.count) frames in "
                      + String(format: "%.1f s", Date().timeIntervalSince(started)))
                XCTAssertEqual(result.status, 0, "\(name) at \(hook): \(result.standardError)")
                let lines = result.standardOutput.split(separator: "\n")
                XCTAssertEqual(lines.count, frames.count, "\(name) at \(hook): one line per frame")
                var mismatches: [String] = []
                for (index, line) in lines.enumerated() where index < frames.count {
                    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    let frame = frames[index]
                    let got = "\(object["verdict"] as? String ?? "null") \((object["rule"] as? Int).map(String.init) ?? "null")"
                    let want: String
                    if frame.count < 14 || frame.count > limit {
                        want = "null null"
                        if object["error"] as? String == nil { mismatches.append("frame \(index) (\(frame.count) bytes): no error given") }
                    } else {
                        let slot = slots[index]
                        let verdict = slot == 0 ? policy : ruleset.rules[slot - 1].verdict
                        want = "\(verdict.rawValue) \(slot == 0 ? "null" : String(slot))"
                        if slot > 0 { decidingRules.insert(ruleset.rules[slot - 1].expression) }
                    }
                    if got != want && mismatches.count < 10 {
                        mismatches.append("frame \(index) (\(frame.count) bytes): libpcap says \(want), xdpfw test says \(got)\n"
                                          + VerdictComparison.hexDump(frame, limit: 64))
                    }
                }
                XCTAssertEqual(mismatches, [], "\(name) ruleset (\(count) rules, policy \(policy)) at \(hook)")
            }
        }
        XCTAssertGreaterThan(decidingRules.count, 40, "many different expressions decided some frame")
    }
}
