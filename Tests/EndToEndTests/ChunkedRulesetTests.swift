import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset

/// A ruleset too big for one program (programs chained by tail calls) applied with real
/// traffic through a veth pair: the counters `xdpfw stats` reports equal libpcap's first match,
/// at XDP, TC egress and TC ingress (where VLAN tags arrive in metadata and the state of the
/// tag moved inline must reach the later programs); the program array is pinned with the
/// program, and goes when a small ruleset replaces it.
final class ChunkedRulesetTests: XCTestCase {
    /// 7,000 rules that do not merge and that the frames mostly miss (two programs by the
    /// default budget), then LiveCounterTests' rules. `len >= 14` (true of every Ethernet frame)
    /// keeps them out of the packet classifier, which would take them whole into one program.
    static let rules: [(expression: String, verdict: Verdict)] =
        (0..<7000).map { ("tcp port \($0 + 1) and host 10.9.\($0 / 250).\($0 % 250 + 1) and len >= 14", $0 % 2 == 0 ? .drop : .pass) }
        + LiveCounterTests.rules

    func testChainedProgramsCountAsLibpcapAtEveryHookAndTheirProgramArrayIsPinned() throws {
        let (quiet, ruleset) = try QuietNetwork.forCorpusRules(Self.rules)
        defer { quiet.close() }
        let tcp = PacketBuilder.ethernet(destination: quiet.network.b.mac, source: quiet.network.a.mac, type: 0x0800,
                                         PacketBuilder.ipv4(source: [10, 9, 27, 250], protocol: 6, PacketBuilder.tcp(source: 40000, destination: 7000)))
        let frames = EndToEnd.sendableFrames(limit: 1000) + [[UInt8]](repeating: tcp, count: 3)
        XCTAssertEqual(ruleset.slot(for: tcp), 7000, "the TCP frame is decided by the last filler rule")
        let tagged = frames.filter { [[0x81, 0x00], [0x88, 0xa8]].contains(Array($0[12..<14])) }
        XCTAssertGreaterThan(tagged.count, 10, "tagged frames (in metadata at TC ingress) take part")

        for hook in ["tc-egress", "xdp", "tc-ingress"] {
            let side: TestNetwork.Side = hook == "tc-egress" ? .a : .b
            try quiet.apply(ruleset.rulesText(policy: .pass), on: side, hook: hook)
            let end = quiet.network.end(side)
            let directory = PinDirectory.root(forNamespace: end.namespace) + "/" + end.interfaceName + "/" + hook
            XCTAssertTrue(BPFFileSystem.exists(directory + "/" + MapName.chunks.pinEntry), "\(hook): the program array is pinned")
            let status = try Xdpfw.run(["-n", end.namespace, "status"])
            let row = status.standardOutput.split(separator: "\n").first { $0.hasPrefix(end.interfaceName + " ") && $0.contains(" \(hook) ") }
            let context: any HookContext = hook == "xdp" ? XDPHook() : TCHook()
            let programs = try Ruleset.parse(ruleset.rulesText(policy: .pass), file: "chunked.conf").ebpfChunks(for: context).count
            XCTAssertGreaterThan(programs, 1, "\(hook): the ruleset is split")
            XCTAssertEqual(row.map { $0.split(separator: " ", omittingEmptySubsequences: true)[4] }, Substring(String(programs)),
                           "\(hook): status shows how many programs: \(status.standardOutput)")
            XCTAssertEqual(try quiet.countingDifferences(frames, ruleset, on: side, hook: hook), [],
                           "\(hook): [packets, bytes] of these slots differ")
            let expected = ruleset.expectedCounters(frames)
            XCTAssertGreaterThanOrEqual(expected.suffix(LiveCounterTests.rules.count).filter { $0[0] > 0 }.count, 8,
                                        "rules in the last program decide frames")

            // A small ruleset in its place is one program: the program array's pin goes.
            try quiet.apply("policy pass\ndrop udp port 53\n", on: side, hook: hook)
            XCTAssertFalse(BPFFileSystem.exists(directory + "/" + MapName.chunks.pinEntry), "\(hook): no program array pinned")
            XCTAssertTrue(BPFFileSystem.exists(directory + "/" + MapName.counters.pinEntry))
            let detached = try Xdpfw.run(["-n", end.namespace, "detach", end.interfaceName, "--hook", hook])
            XCTAssertEqual(detached.status, 0, detached.standardError)
            XCTAssertFalse(BPFFileSystem.exists(directory), "\(hook): detach removes the pins")
        }
    }
}
