import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

/// Rulesets too big for the verifier as one program, loaded as `apply` loads them: chunks
/// chained by tail calls. Every packet's verdict and deciding rule, and every rule's counter,
/// must be libpcap's first match over the rules in order (each rule's own libpcap program).
/// Each ruleset is loaded as one program where it fits and split by the default budget, and
/// also split finer (a budget of an eighth) so that packets go down a long chain.
final class ChunkedRulesetKernelTests: XCTestCase {
    typealias P = PacketBuilder
    static let fineBudget = ChunkBudget(pendingBranches: ChunkBudget.verifier.pendingBranches / 8,
                                        walkedInstructions: ChunkBudget.verifier.walkedInstructions / 8)

    /// `tcp port P and host A` does not merge; one program held about 500 of them.
    func testThousandsOfPortAndHostRulesDecideAndCountAsLibpcap() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var random = SeededRandom(seed: 41)
        let rules = (0..<3000).map { index in (expression: PortAndHost.rule(index), verdict: random.next(2) == 0 ? Verdict.drop : .pass) }
        var packets: [[UInt8]] = []
        for index in Array(stride(from: 0, to: rules.count, by: 5)) + Array(rules.count - 8..<rules.count) {
            packets.append(PortAndHost.packet(index, &random))
            packets.append(PortAndHost.packet(index, &random, portOf: (index + 1) % rules.count))   // host and port of different rules
        }
        packets += TestPackets.all.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }
        try compare(rules, packets: packets, policy: .drop, minimumPrograms: 5, label: "3000 tcp port and host")
        // As `apply` loads them by default: one packet classifier.
        try compare(rules, packets: packets, policy: .drop, minimumPrograms: 1, label: "3000 tcp port and host, classified",
                    classifier: true)
    }

    /// Random rules of many shapes (mergeable runs among them, which become lookups in between
    /// the filters), `tcp port and host` rules, and packets that reach rules in every chunk.
    func testMixedRandomRulesDecideAndCountAsLibpcap() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var random = SeededRandom(seed: 43)
        var workload = MergeableRulesets(seed: 44)
        var mergeable = workload.rules(.mixed, count: 400)[...]
        var rules: [(expression: String, verdict: Verdict)] = []
        var packets: [[UInt8]] = []
        for index in 0..<2500 {
            let verdict: Verdict = random.next(2) == 0 ? .drop : .pass
            switch random.next(4) {
            case 0 where !mergeable.isEmpty:
                rules.append(mergeable.removeFirst())
            case 1:
                rules.append((PortAndHost.rule(index), verdict))
                if random.next(3) == 0 { packets.append(PortAndHost.packet(index, &random)) }
            default:
                let (rule, packet) = MixedShapes.rule(index, &random)
                rules.append((rule, verdict))
                if random.next(3) == 0 { packets.append(packet) }
            }
        }
        packets += workload.packets(count: 200)
        packets += TestPackets.all.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }
        try compare(rules, packets: packets, policy: .pass, minimumPrograms: 5, label: "2500 mixed")
        // As `apply` loads them: one classifier takes the 5-tuple rules in hundreds of parts
        // between the filters and lookups, and each program of the chain evaluates it again.
        try compare(rules, packets: packets, policy: .pass, minimumPrograms: 2, label: "2500 mixed, classified in parts",
                    classifier: true)
    }

    /// `minimumPrograms`: how many the fine budget must split the rules into, at least. Unless
    /// `classifier`, long runs of 5-tuple rules stay filters (the classifier takes them whole,
    /// and these tests are about the chain of filter programs).
    private func compare(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]], policy: Verdict,
                         minimumPrograms: Int, label: String, classifier: Bool = false) throws {
        let text = "policy \(policy.rawValue)\n" + rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined()
        var ruleset = try Ruleset.parse(text, file: "chunked.conf")
        if !classifier { ruleset.classifierMinimumRun = .max }
        XCTAssertEqual(ruleset.segments().contains { if case .classifier = $0 { true } else { false } }, classifier, label)
        let oracle = try LibpcapRuleset(rules)
        let expectedSlots = packets.map(oracle.slot(for:))
        for (hook, budget) in KernelDifferentialTests.hooks.flatMap({ hook in [(hook, ChunkBudget.verifier), (hook, Self.fineBudget)] }) {
            let chunks = try ruleset.ebpfChunks(for: hook.context, budget: budget)
            if budget == Self.fineBudget {
                XCTAssertGreaterThanOrEqual(chunks.count, minimumPrograms, "\(label): split into several programs")
            }
            // Some packet is decided in each chunk (so every tail call is taken), and some by the policy.
            for chunk in chunks {
                let slots = try XCTUnwrap(chunk.ruleSlots)
                XCTAssert(expectedSlots.contains { slots.contains($0) }, "\(label): a packet is decided by rules \(slots)")
            }
            XCTAssert(expectedSlots.contains(0), "\(label): a packet gets the policy")
            let loaded: LoadedRulesetProgram
            do {
                loaded = try LoadedRulesetProgram.load(chunks: chunks.map(\.instructions), type: hook.type, name: "xdpfw_chunked",
                                                       counterMap: MapName.counters, chunkMap: MapName.chunks,
                                                       counterSlots: ruleset.counterSlots, lookupTables: ruleset.lookupTables(for: hook.context),
                                                       xdpFragments: hook.xdpFragments)
            } catch {
                XCTFail("\(label), \(hook.name): \(String(describing: error).prefix(300)) … \(String(describing: error).suffix(300))")
                continue
            }
            defer { loaded.close() }
            var nothing = Assembler()
            nothing.move(.r0, 0)
            nothing.exit()
            let baseline = try BPFProgram.load(type: hook.type, instructions: try nothing.assemble().encoded, name: "xdpfw_nothing", xdpFragments: hook.xdpFragments)
            defer { baseline.close() }
            XCTAssertEqual(loaded.programs.count, chunks.count)
            var mismatches: [String] = []
            var expected = [[UInt64]](repeating: [0, 0], count: ruleset.counterSlots)
            var refused = 0
            for (index, packet) in packets.enumerated() {
                let slot = expectedSlots[index]
                let before = try loaded.counters.sumUInt64(key: BPFMap.key(index: UInt32(slot)))?.first ?? 0
                let result: TestRunResult
                do { result = try loaded.program.testRun(packet: packet) } catch {
                    // The kernel refuses to build a socket buffer around some frames; then it
                    // refuses them to a program that does nothing too. Any other refusal is ours.
                    let baselineRuns = (try? baseline.testRun(packet: packet)) != nil
                    XCTAssert(hook.type == .tc && !baselineRuns,
                              "\(label), \(hook.name): packet \(index) refused, not by the kernel's test run: \(error)")
                    refused += 1
                    continue
                }
                expected[slot][0] += 1
                expected[slot][1] += UInt64(packet.count)
                let after = try loaded.counters.sumUInt64(key: BPFMap.key(index: UInt32(slot)))?.first ?? 0
                let verdict = slot == 0 ? policy : rules[slot - 1].verdict
                let decider = slot == 0 ? "the policy" : "rule \(slot) '\(rules[slot - 1].expression)'"
                if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)) || after != before + 1,
                   mismatches.count < 5 {
                    mismatches.append("packet \(index) (\(VerdictComparison.hexDump(packet, limit: 64))): libpcap's first match is "
                                      + "\(decider); the program returned \(result.returnValue) and counted it "
                                      + (after == before + 1 ? "there" : "elsewhere"))
                }
            }
            XCTAssertLessThan(refused, packets.count / 4, "\(label), \(hook.name): most packets ran")
            let place = "\(label), \(hook.name), \(chunks.count) program\(chunks.count == 1 ? "" : "s")"
            XCTAssertEqual(mismatches, [], place)
            try loaded.assertCounters(expected, place)
        }
    }
}

extension LoadedRulesetProgram {
    /// Every counter slot holds `expected` (packets, bytes), as libpcap's first match counts them.
    func assertCounters(_ expected: [[UInt64]], _ place: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let counters = try LibpcapRuleset.counters(counters, slots: expected.count)
        let wrong = counters.indices.filter { counters[$0] != expected[$0] }.prefix(5)
        XCTAssertEqual(Array(wrong), [], "\(place): counters (packets, bytes) differ at slots "
                       + wrong.map { "\($0): \(counters[$0]) vs libpcap's \(expected[$0])" }.joined(separator: "; "),
                       file: file, line: line)
    }
}

/// Rule i: `tcp port (1000 + i) and host 10.3.x.y`, one host and port per rule.
enum PortAndHost {
    static func host(_ index: Int) -> [UInt8] { [10, 3, UInt8(index / 250 % 250), UInt8(index % 250 + 1)] }
    static func rule(_ index: Int) -> String { "tcp port \(1000 + index) and host \(host(index).map(String.init).joined(separator: "."))" }

    /// A TCP frame with rule `index`'s host (as source or destination) and the port of rule
    /// `portOf` (as source or destination).
    static func packet(_ index: Int, _ random: inout SeededRandom, portOf: Int? = nil) -> [UInt8] {
        let port = UInt16(1000 + (portOf ?? index))
        let tcp = random.next(2) == 0 ? PacketBuilder.tcp(source: 40000, destination: port) : PacketBuilder.tcp(source: port, destination: 40000)
        let ip = random.next(2) == 0 ? PacketBuilder.ipv4(source: host(index), destination: [192, 0, 2, 1], protocol: 6, tcp)
            : PacketBuilder.ipv4(source: [192, 0, 2, 1], destination: host(index), protocol: 6, tcp)
        return PacketBuilder.ethernet(type: 0x0800, ip)
    }
}

/// Rules of the shapes people write (those of `scripts/bench-scale`'s mixed family), each
/// with a frame that matches it; values are drawn per rule so that later rules get packets too.
enum MixedShapes {
    static func rule(_ index: Int, _ random: inout SeededRandom) -> (String, [UInt8]) {
        typealias P = PacketBuilder
        let port = UInt16(20000 + index), other = UInt16(40000)
        let address: [UInt8] = [10, 4, UInt8(index / 250 % 250), UInt8(index % 250 + 1)]
        let text = address.map(String.init).joined(separator: ".")
        let net = address.prefix(3).map(String.init).joined(separator: ".") + ".0/24"
        switch random.next(10) {
        case 0:
            return ("udp src port \(port) and not dst net \(net)",
                    P.ethernet(type: 0x0800, P.ipv4(protocol: 17, P.udp(source: port, destination: other))))
        case 1:
            return ("host \(text) and (tcp or udp)",
                    P.ethernet(type: 0x0800, P.ipv4(source: address, protocol: 17, P.udp(source: other, destination: other))))
        case 2:
            return ("icmp and src net \(net)", P.ethernet(type: 0x0800, P.ipv4(source: address, protocol: 1, P.icmp(type: 8))))
        case 3:
            let vlan = UInt16(1 + index % 4094)
            return ("vlan \(vlan) and tcp port \(port)",
                    P.tagged([(0x8100, vlan)], type: 0x0800, P.ipv4(protocol: 6, P.tcp(source: other, destination: port))))
        case 4:
            return ("tcp[tcpflags] & tcp-syn != 0 and dst port \(port)",
                    P.ethernet(type: 0x0800, P.ipv4(protocol: 6, P.tcp(source: other, destination: port, flags: 0x02))))
        case 5:
            return ("ip6 and udp dst port \(port)", P.ethernet(type: 0x86dd, P.ipv6(nextHeader: 17, P.udp(source: other, destination: port))))
        case 6:
            let mac: [UInt8] = [2, 0, 0, 9, UInt8(index >> 8 & 0xff), UInt8(index & 0xff)]
            return ("ether src \(mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":"))",
                    P.ethernet(source: mac, type: 0x0800, P.ipv4(protocol: 6, P.tcp(source: other, destination: other))))
        case 7:
            return ("tcp portrange \(port)-\(port + 2) and src host \(text)",
                    P.ethernet(type: 0x0800, P.ipv4(source: address, protocol: 6, P.tcp(source: other, destination: port + 1))))
        case 8:
            return ("len > \(200 + index % 500) and ip proto 47 and dst host \(text)",
                    P.ethernet(type: 0x0800, P.ipv4(destination: address, protocol: 47, [UInt8](repeating: 0, count: 800))))
        default:
            return ("udp and dst host \(text) and dst port \(port)",
                    P.ethernet(type: 0x0800, P.ipv4(destination: address, protocol: 17, P.udp(source: other, destination: port))))
        }
    }
}
