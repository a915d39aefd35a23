import XCTest
import ClassicBPF
import DifferentialTesting
import FilterCompiler
import Kernel
@testable import EBPF

/// TCP over a veth with TSO: the sender's frames are GSO socket buffers of up to 64 KiB whose
/// payload lies in page fragments, and only the headers are in the linear head TC programs see
/// between data and data_end. libpcap (a packet socket) sees every byte, so rules reading far
/// into the payload must decide as libpcap does on the same frames: at TC egress on the
/// sender's veth and at TC ingress on the receiver's (the same frames, captured there).
final class NonLinearPacketTests: XCTestCase {
    static let port: UInt16 = 7100
    static let rules: [(expression: String, verdict: Verdict)] = [
        // A payload byte about 1 KB in, true for about half the segments.
        ("tcp dst port 7100 and tcp[1000] & 0x80 = 0", .pass),
        // The stream's bytes are i % 251, so this holds wherever byte 30,000 of the segment exists.
        ("tcp dst port 7100 and tcp[30000] < 251", .pass),
        ("tcp dst port 7100 and len > 1500", .pass),
    ]

    func testTCDecidesOnPayloadBeyondTheLinearHeadAsLibpcapDoes() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "needs root: network namespaces, veth pairs, TC attach")
        let network = try TestNetwork()   // as root this must work: a failure here is a failure
        defer { network.close() }

        let ruleset = try LibpcapRuleset(Self.rules)
        let (egress, egressCounters) = try ruleset.load(policy: .pass, hook: .tc, type: .tc)
        defer { egress.close(); egressCounters.close() }
        let (ingress, ingressCounters) = try ruleset.load(policy: .pass, hook: .tc, type: .tc)
        defer { ingress.close(); ingressCounters.close() }
        // Every frame that reaches B, opened before the programs count anything.
        let capture = try network.capture(on: .b)
        defer { capture.close() }
        try capture.reserve(receiveBuffer: 64 << 20)
        let interfaceA = try network.interface(.a), interfaceB = try network.interface(.b)
        try network.run(in: .a) {
            try TCAttachment.createClsact(on: interfaceA)
            try TCAttachment(interface: interfaceA, direction: .egress).attach(egress)
        }
        try network.run(in: .b) {
            try TCAttachment.createClsact(on: interfaceB)
            try TCAttachment(interface: interfaceB, direction: .ingress).attach(ingress)
        }

        let payload = (0..<(2 << 20)).map { UInt8($0 % 251) }
        let received = try network.sendTCP(payload, from: .a, port: Self.port)
        XCTAssertEqual(received, payload.count, "the whole stream arrived")
        let frames = try capture.receive(limit: 100_000, timeout: .seconds(1))
        let expected = ruleset.expectedCounters(frames)
        XCTAssertGreaterThan(frames.map(\.count).max() ?? 0, 30_100, "GSO frames longer than the furthest load")
        // (Each of the ~30 GSO frames goes to rule 1 or 2 about as often: both count some.)
        XCTAssertGreaterThan(expected[1][0], 0, "libpcap: some frames have a small byte 1,000 into their segment")
        XCTAssertGreaterThan(expected[2][0], 0, "libpcap: some other frames hold byte 30,000 of their TCP segment")

        // Counters of the rules only: the policy slot may also count stray frames (neighbour
        // discovery) sent after the capture stopped reading.
        let rules = 1...Self.rules.count
        XCTAssertEqual(try LibpcapRuleset.counters(egressCounters, slots: Self.rules.count + 1)[rules], expected[rules],
                       "TC egress on A: packets and bytes per rule equal libpcap's first match over the frames B received")
        XCTAssertEqual(try LibpcapRuleset.counters(ingressCounters, slots: Self.rules.count + 1)[rules], expected[rules],
                       "TC ingress on B: packets and bytes per rule equal libpcap's first match")
    }

    func testReachOfCommonFilters() throws {
        func reach(_ expression: String) throws -> UInt32? {
            PacketReach(filter: try FilterCompiler.compile(expression)).bytes
        }
        XCTAssertEqual(try reach("tcp dst port 22"), 14 + 60 + 4, "ports after an IPv4 header of at most 60 bytes")
        XCTAssertEqual(try reach("tcp[1000] = 1"), 14 + 60 + 1001)
        XCTAssertEqual(try reach("ip6[1000] = 1"), 14 + 1001)
        XCTAssertEqual(try reach("vlan and ip[9] = 6"), 18 + 10)
        XCTAssertEqual(try reach("len > 100"), 0, "reads no packet byte")
        XCTAssertNil(try reach("ip6 protochain 6"), "X from a loop: the whole packet")
        XCTAssertNil(try reach("tcp[tcp[12] >> 4] = 1"), "X from a packet byte with arithmetic beyond the bound")
    }

    /// The pull is a TC step only, and only when a rule reads the packet at all.
    func testPullOnlyAtTCAndOnlyForRulesThatReadThePacket() throws {
        func pulls(_ expression: String, _ hook: any HookContext) throws -> Bool {
            let program = try EBPFFilterProgram.generate(try FilterCompiler.compile(expression), hook: hook)
            return program.contains { $0.opcode == Opcode.call && $0.immediate == HelperFunction.skbPullData.rawValue }
        }
        XCTAssertTrue(try pulls("tcp[1000] = 1", .tc))
        XCTAssertFalse(try pulls("tcp[1000] = 1", .xdp), "XDP frames are linear")
        XCTAssertFalse(try pulls("len > 100", .tc), "reads no packet byte")
        let filters = try ["udp", "tcp[1000] = 1", "len > 100"].map { try FilterCompiler.compile($0) }
        let segments = filters.enumerated().map { RulesetSegment.filter($1, verdict: .drop, slot: $0 + 1) }
        XCTAssertEqual(PacketReach(segments: segments), PacketReach(filter: filters[1]), "the furthest of the rules")
        XCTAssertEqual(PacketReach(segments: Array(segments.prefix(1)) + segments.suffix(1)), PacketReach(filter: filters[0]))
    }
}

/// What the pull costs: TCP throughput and the process's CPU time (sender, receiver, and the
/// softirq work done on their behalf) with a one-rule program at TC egress whose reach differs.
/// Slow (a few GB over the veth), so only with XDPFW_MEASURE_PULL=1; prints a table.
final class SocketBufferPullCostTests: XCTestCase {
    func testMeasurePullCost() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["XDPFW_MEASURE_PULL"] != nil, "set XDPFW_MEASURE_PULL=1 to measure")
        try XCTSkipUnless(KernelSupport.isRoot, "needs root")
        let network = try TestNetwork()
        defer { network.close() }
        let interface = try network.interface(.a)
        try network.run(in: .a) { try TCAttachment.createClsact(on: interface) }
        let cases: [(name: String, expression: String?)] = [
            ("no program", nil),
            ("reach 24 (no pull: in the head)", "ip[9] = 17"),
            ("reach 78 (ports)", "tcp dst port 9"),
            ("reach 1,075", "tcp[1000] = 1"),
            ("reach 65,075 (about the whole packet)", "tcp[65000] = 1"),
            ("reach unknown: whole packet", "ip6 protochain 17"),
        ]
        let payload = [UInt8](repeating: 7, count: 48 << 20)
        let rounds = Int(ProcessInfo.processInfo.environment["XDPFW_MEASURE_PULL"] ?? "") ?? 3
        var results = [String: [(seconds: Double, cpu: Double)]]()
        var port: UInt16 = 7200
        for _ in 0..<rounds {
            for (name, expression) in cases {
                var program: BPFProgram?
                if let expression {
                    let ruleset = try LibpcapRuleset([(expression, .pass)])
                    let (loaded, counters) = try ruleset.load(policy: .pass, hook: .tc, type: .tc)
                    counters.close()
                    program = loaded
                    try network.run(in: .a) { try TCAttachment(interface: interface, direction: .egress).attach(loaded) }
                }
                let cpuBefore = Self.processCPU(), clock = ContinuousClock(), start = clock.now
                port += 1
                let received = try network.sendTCP(payload, from: .a, port: port, timeout: .seconds(30))
                let elapsed = clock.now - start, cpu = Self.processCPU() - cpuBefore
                XCTAssertEqual(received, payload.count)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                results[name, default: []].append((seconds, cpu))
                if program != nil {
                    try network.run(in: .a) { try TCAttachment(interface: interface, direction: .egress).detach() }
                    program?.close()
                }
            }
        }
        for (name, _) in cases {
            let runs = results[name] ?? []
            let seconds = runs.map(\.seconds).sorted()[runs.count / 2], cpu = runs.map(\.cpu).sorted()[runs.count / 2]
            let megabytes = Double(payload.count) / 1e6
            print(String(format: "pull cost | %-40@ | %7.0f MB/s | %6.2f CPU ns/byte", name as NSString,
                         megabytes / seconds, cpu * 1e9 / Double(payload.count)))
        }
    }

    static func processCPU() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
