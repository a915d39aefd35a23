import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

/// The drop log's program side, run by the kernel (BPF_PROG_TEST_RUN): with the switch off the
/// ring stays empty; switched on, every record names the rule libpcap's first match gives the
/// frame, carries the program's verdict, the frame's first bytes and its length; `--rule` and
/// `--all` select as they say; the token bucket bounds the records. In one program, in chunks
/// chained by tail calls, and with a packet classifier deciding.
final class PacketLogKernelTests: XCTestCase {
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("tcp port 80", .drop), ("udp and port 53", .drop), ("arp", .pass), ("icmp", .drop),
        ("ip6 protochain 17", .pass), ("vlan", .drop), ("len > 1000", .drop), ("ip6", .drop),
    ]

    func testRecordsNameTheDecidingRuleAndCarryTheFrameInOneProgramAndInChunks() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let packets = TestPackets.all.filter { $0.count >= 14 && $0.count <= KernelDifferentialTests.testRunLimit }
            + [TestPackets.ethernet(0x0800, TestPackets.ipv4(protocol: 17, TestPackets.udp(destination: 53, payload: [UInt8](repeating: 7, count: 1200))))]
        let tiny = ChunkBudget(pendingBranches: 40, walkedInstructions: 2_000)
        for budget in [ChunkBudget.verifier, tiny] {
            try check(Self.rules, packets: packets, budget: budget, minimumPrograms: budget == tiny ? 3 : 1)
        }
    }

    /// 40 `tcp port P and host A` rules in a row are decided by a packet classifier.
    func testRecordsNameTheRuleAClassifierDecided() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var random = SeededRandom(seed: 13)
        let rules = [("udp port 9", Verdict.pass)] + (0..<40).map { (PortAndHost.rule($0), $0 % 3 == 0 ? Verdict.pass : .drop) }
        let ruleset = try Self.ruleset(rules, policy: .pass)
        XCTAssert(ruleset.segments().contains { if case .classifier = $0 { true } else { false } }, "a classifier decides")
        let packets = (0..<40).map { PortAndHost.packet($0, &random) } + TestPackets.frames.filter { $0.count >= 14 }
        try check(rules, packets: packets, budget: .verifier, minimumPrograms: 1)
    }

    func testTheTokenBucketBoundsTheRecords() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let ruleset = try Self.ruleset(Self.rules, policy: .drop)
        for hook in KernelDifferentialTests.hooks {
            let loaded = try Self.load(ruleset, hook: hook, budget: .verifier)
            defer { loaded.close() }
            let maps = try Self.logMaps(loaded)
            let reader = try RingBufferReader(map: maps.ring)
            let rate: UInt64 = 5
            try PacketLogTables.set(PacketLogSwitch(flags: PacketLogSwitch.on | PacketLogSwitch.everyVerdict, rate: rate), in: maps.switchMap)
            let start = ContinuousClock.now
            let frame = TestPackets.frames[0]
            for _ in 0..<200 { _ = try loaded.program.testRun(packet: frame) }
            let elapsed = ContinuousClock.now - start
            let records = try reader.take(waitingMilliseconds: 0)
            // A full bucket (one second's worth) on each CPU the runs took, then `rate` a second.
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let bound = Double(rate) * Double(try BPFMap.possibleCPUCount()) * (1 + seconds)
            XCTAssertGreaterThanOrEqual(records.count, Int(rate), "\(hook.name): a full bucket's burst is logged")
            XCTAssertLessThanOrEqual(Double(records.count), bound, "\(hook.name): at most rate × CPUs × (1 + \(seconds) s)")
        }
    }

    // MARK: -

    private func check(_ rules: [(expression: String, verdict: Verdict)], packets: [[UInt8]], budget: ChunkBudget,
                       minimumPrograms: Int) throws {
        let oracle = try LibpcapRuleset(rules)
        for policy in Verdict.allCases {
            let ruleset = try Self.ruleset(rules, policy: policy)
            for hook in KernelDifferentialTests.hooks {
                let label = "\(hook.name), policy \(policy), budget \(budget.pendingBranches)"
                let loaded = try Self.load(ruleset, hook: hook, budget: budget)
                defer { loaded.close() }
                XCTAssertGreaterThanOrEqual(loaded.programs.count, minimumPrograms, label)
                let maps = try Self.logMaps(loaded)
                let reader = try RingBufferReader(map: maps.ring)
                let unlimited = PacketLogSwitch.maximumRate

                // Off: the programs decide, nothing reaches the ring.
                let ran = packets.filter { (try? loaded.program.testRun(packet: $0)) != nil }
                XCTAssertEqual(try reader.take(waitingMilliseconds: 0).count, 0, "\(label): no logger, no record")
                XCTAssertGreaterThan(ran.count, packets.count / 2, label)

                func expectedRecords(_ selected: ([UInt8], Int, Verdict) -> Bool) -> [PacketLogRecord] {
                    ran.compactMap { packet in
                        let slot = oracle.slot(for: packet)
                        let verdict = slot == 0 ? policy : rules[slot - 1].verdict
                        guard selected(packet, slot, verdict) else { return nil }
                        return PacketLogRecord(bootTimeNanoseconds: 0, slot: UInt32(slot),
                                               returnCode: UInt32(bitPattern: hook.context.returnCode(for: verdict)),
                                               wireLength: UInt32(packet.count), frame: Array(packet.prefix(PacketLogRecord.frameBytes)))
                    }
                }
                func logged(_ value: PacketLogSwitch) throws -> [PacketLogRecord] {
                    try PacketLogTables.refill(maps.bucket)
                    try PacketLogTables.set(value, in: maps.switchMap)
                    for packet in ran { _ = try loaded.program.testRun(packet: packet) }
                    try PacketLogTables.set(.off, in: maps.switchMap)
                    return try reader.take(waitingMilliseconds: 0).compactMap(PacketLogRecord.init(bytes:)).map {
                        var record = $0
                        record.bootTimeNanoseconds = 0
                        return record
                    }
                }
                let drops = try logged(PacketLogSwitch(flags: PacketLogSwitch.on, rate: unlimited))
                XCTAssertEqual(drops, expectedRecords { $2 == .drop }, "\(label): drops")
                XCTAssertGreaterThan(drops.count, 3, label)
                let every = try logged(PacketLogSwitch(flags: PacketLogSwitch.on | PacketLogSwitch.everyVerdict, rate: unlimited))
                XCTAssertEqual(every, expectedRecords { _, _, _ in true }, "\(label): every decision")
                let decided = Set(every.map(\.slot)).sorted()
                XCTAssertGreaterThan(decided.count, 2, "\(label): several rules decide")
                for slot in [decided.last!, decided.first!] {
                    let one = try logged(PacketLogSwitch(flags: PacketLogSwitch.on | PacketLogSwitch.everyVerdict | PacketLogSwitch.oneRule,
                                                         slot: slot, rate: unlimited))
                    XCTAssertEqual(one, expectedRecords { _, decider, _ in decider == slot }, "\(label): slot \(slot) only")
                }
            }
        }
    }

    static func ruleset(_ rules: [(expression: String, verdict: Verdict)], policy: Verdict) throws -> Ruleset {
        try Ruleset.parse("policy \(policy.rawValue)\n" + rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "log.conf")
    }

    static func load(_ ruleset: Ruleset, hook: KernelDifferentialTests.TestHook, budget: ChunkBudget) throws -> LoadedRulesetProgram {
        let chunks = try ruleset.ebpfChunks(for: hook.context, budget: budget)
        return try LoadedRulesetProgram.load(chunks: chunks.map(\.instructions), type: hook.type, name: "xdpfw_logged",
                                             counterMap: MapName.counters, chunkMap: MapName.chunks,
                                             counterSlots: ruleset.counterSlots, lookupTables: ruleset.lookupTables(for: hook.context),
                                             xdpFragments: hook.xdpFragments)
    }

    static func logMaps(_ loaded: LoadedRulesetProgram) throws -> (switchMap: BPFMap, bucket: BPFMap, ring: BPFMap) {
        let maps = Ruleset.logMaps
        return (try XCTUnwrap(loaded.pinnedMaps[maps.switchMap]), try XCTUnwrap(loaded.pinnedMaps[maps.bucketMap]),
                try XCTUnwrap(loaded.pinnedMaps[maps.ringMap]))
    }
}
