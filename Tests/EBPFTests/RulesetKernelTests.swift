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
        var classic: [[ClassicInstruction]] = []
        var filters: [(filter: FilterProgram, verdict: Verdict)] = []
        for rule in Self.rules {
            guard case let .success(program) = Libpcap.compile(rule.expression, optimize: true),
                  let filter = ClassicLifter.lift(program) else { return XCTFail("libpcap could not compile '\(rule.expression)'") }
            classic.append(program)
            filters.append((filter, rule.verdict))
        }
        var packets = TestPackets.all
        if Corpus.directory != nil { packets += Corpus.captures.packets.prefix(3000).map(\.packet.bytes) }
        packets = packets.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }

        for hook in KernelDifferentialTests.hooks {
            for policy in Verdict.allCases {
                var instructions = try EBPFRulesetProgram.generate(rules: filters, policy: policy, hook: hook.context,
                                                                   counterMap: "counters")
                XCTAssertEqual(instructions.mapReferences, ["counters"])
                let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: EBPFRulesetProgram.counterValueSize,
                                            maxEntries: filters.count + 1, name: "xdpfw_counters")
                defer { map.close() }
                try instructions.resolveMaps(["counters": map.fd])
                let program = try BPFProgram.load(type: hook.type, instructions: instructions.encoded, name: "xdpfw_ruleset")
                defer { program.close() }

                var expected = [[UInt64]](repeating: [0, 0], count: filters.count + 1)
                var mismatches: [String] = []
                for (index, packet) in packets.enumerated() {
                    guard let result = try? program.testRun(packet: packet) else { continue }
                    let rule = classic.firstIndex { Libpcap.filter($0, packet: packet, wireLength: UInt32(packet.count)) != 0 }
                    let slot = rule.map { $0 + 1 } ?? 0
                    let verdict = rule.map { Self.rules[$0].verdict } ?? policy
                    expected[slot][0] += 1
                    expected[slot][1] += UInt64(packet.count)
                    if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)), mismatches.count < 10 {
                        mismatches.append("packet \(index): rule \(rule.map(String.init) ?? "none") → \(verdict), program returned \(result.returnValue)")
                    }
                }
                let counted = try (0...filters.count).map { slot in
                    try map.sumUInt64(key: BPFMap.key(index: UInt32(slot))) ?? []
                }
                XCTAssertEqual(mismatches, [], "\(hook.context.name), policy \(policy)")
                XCTAssertEqual(counted, expected, "\(hook.context.name), policy \(policy): counters (packets, bytes) per slot")
                XCTAssertGreaterThan(expected.filter { $0[0] > 0 }.count, 4, "the packets exercise several rules")
            }
        }
    }

    func testARulesetWhoseFirstRuleMatchesEverythingStillLoads() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps needs root (CAP_BPF)")
        // The rules after an always-matching one are unreachable: the assembler drops them,
        // as the verifier refuses unreachable instructions.
        guard case let .success(all) = Libpcap.compile("", optimize: true), let everything = ClassicLifter.lift(all),
              case let .success(tcp) = Libpcap.compile("tcp", optimize: true), let tcpFilter = ClassicLifter.lift(tcp)
        else { return XCTFail("libpcap could not compile") }
        for hook in KernelDifferentialTests.hooks {
            var instructions = try EBPFRulesetProgram.generate(rules: [(everything, .drop), (tcpFilter, .pass)], policy: .pass,
                                                               hook: hook.context, counterMap: "counters")
            let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 3, name: "xdpfw_counters")
            defer { map.close() }
            try instructions.resolveMaps(["counters": map.fd])
            let program = try BPFProgram.load(type: hook.type, instructions: instructions.encoded, name: "xdpfw_ruleset")
            defer { program.close() }
            let result = try program.testRun(packet: TestPackets.frames[0])
            XCTAssertEqual(result.returnValue, UInt32(bitPattern: hook.context.returnCode(for: .drop)))
            XCTAssertEqual(try map.sumUInt64(key: BPFMap.key(index: 1)), [1, UInt64(TestPackets.frames[0].count)])
        }
    }
}
