import XCTest
import ClassicBPF
import DifferentialTesting
import FilterCompiler
import Kernel
@testable import EBPF

/// A whole ruleset as one program in the kernel: first match wins, each decision counted in
/// its slot of the per-CPU counter map, compared with libpcap deciding rule by rule.
final class RulesetKernelTests: XCTestCase {
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("tcp port 80", .drop), ("ip6 protochain 6", .pass), ("udp and port 53", .drop),
        ("vlan 100", .pass), ("ip protochain 17", .drop), ("len > 1000", .drop), ("arp", .pass),
    ]

    func testFirstMatchingRuleDecidesAndIsCounted() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs, maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let ruleset = try LibpcapRuleset(Self.rules)
        var packets = TestPackets.all
        if Corpus.directory != nil { packets += Corpus.captures.packets.prefix(3000).map(\.packet.bytes) }
        packets = packets.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }

        for hook in KernelDifferentialTests.hooks {
            for policy in Verdict.allCases {
                let (program, map) = try ruleset.load(policy: policy, hook: hook.context, type: hook.type, xdpFragments: hook.xdpFragments)
                defer { program.close(); map.close() }
                var mismatches: [String] = []
                var ran: [[UInt8]] = []
                for (index, packet) in packets.enumerated() {
                    guard let result = try? program.testRun(packet: packet) else { continue }
                    ran.append(packet)
                    let verdict = ruleset.verdict(for: packet, policy: policy)
                    if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)), mismatches.count < 10 {
                        mismatches.append("packet \(index): libpcap's first match says \(verdict), program returned \(result.returnValue)")
                    }
                }
                let expected = ruleset.expectedCounters(ran)
                XCTAssertEqual(mismatches, [], "\(hook.name), policy \(policy)")
                XCTAssertEqual(try LibpcapRuleset.counters(map, slots: Self.rules.count + 1), expected,
                               "\(hook.name), policy \(policy): counters (packets, bytes) per slot")
                XCTAssertGreaterThan(expected.filter { $0[0] > 0 }.count, 4, "the packets exercise several rules")
            }
        }
    }

    func testARulesetWhoseFirstRuleMatchesEverythingStillLoads() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps needs root (CAP_BPF)")
        // The rules after an always-matching one are unreachable: the assembler drops them,
        // as the verifier refuses unreachable instructions.
        let ruleset = try LibpcapRuleset([("", .drop), ("tcp", .pass)])
        for hook in KernelDifferentialTests.hooks {
            let (program, map) = try ruleset.load(policy: .pass, hook: hook.context, type: hook.type, xdpFragments: hook.xdpFragments)
            defer { program.close(); map.close() }
            let result = try program.testRun(packet: TestPackets.frames[0])
            XCTAssertEqual(result.returnValue, UInt32(bitPattern: hook.context.returnCode(for: .drop)))
            XCTAssertEqual(try map.sumUInt64(key: BPFMap.key(index: 1)), [1, UInt64(TestPackets.frames[0].count)])
        }
    }

    func testEveryCorpusExpressionInOneRulesetLoadsAndDecidesAsLibpcap() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps needs root (CAP_BPF)")
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        var seen = Set<String>()
        let expressions = (Corpus.acceptedExpressions.map(\.text) + KernelDifferentialTests.ownExpressions)
            .filter { !$0.isEmpty && seen.insert($0).inserted }
            .filter { expression in
                // libpcap's bpf_filter cannot answer metadata loads: leave those rules out.
                guard case let .success(classic) = Libpcap.compile(expression, optimize: true),
                      let filter = ClassicLifter.lift(classic) else { return false }
                return !filter.usesAncillaryData
            }
        let ruleset = try LibpcapRuleset(expressions.enumerated().map { ($1, $0 % 2 == 0 ? .drop : .pass) })
        var distinct = Set<[UInt8]>()
        let packets = (Corpus.captures.packets.map(\.packet.bytes) + TestPackets.all)
            .filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit && distinct.insert($0).inserted }
        for hook in KernelDifferentialTests.hooks {
            let (program, map) = try ruleset.load(policy: .pass, hook: hook.context, type: hook.type, xdpFragments: hook.xdpFragments)
            defer { program.close(); map.close() }
            let info = try program.info()
            print("\(hook.name): \(expressions.count) rules, \(info.translatedInstructions) instructions, verifier walked \(info.verifiedInstructions)")
            // Each filter starts from the same verifier state, so the walk grows with the rules,
            // not with the ways through them (it was over 900,000 before that).
            XCTAssertLessThan(info.verifiedInstructions, 200_000)
            var ran: [[UInt8]] = [], mismatches = 0
            for packet in packets {
                guard let result = try? program.testRun(packet: packet) else { continue }
                ran.append(packet)
                if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: ruleset.verdict(for: packet, policy: .pass))) {
                    mismatches += 1
                }
            }
            XCTAssertEqual(mismatches, 0, "\(hook.name): verdicts that differ from libpcap's first match")
            XCTAssertEqual(try LibpcapRuleset.counters(map, slots: ruleset.rules.count + 1), ruleset.expectedCounters(ran))
        }
    }
}
