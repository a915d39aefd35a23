import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel

/// Real frames through a veth pair: the per-rule counters `xdpfw stats` reports at TC egress of
/// the sending end and at XDP of the receiving end equal, packet for packet and byte for byte,
/// what libpcap's first match over the same frames says.
final class LiveCounterTests: XCTestCase {
    /// Overlapping matches, both verdicts, arithmetic, VLAN and IPv6: each frame is counted once,
    /// by the first rule libpcap says matches it.
    static let rules: [(expression: String, verdict: Verdict)] = [
        ("tcp dst port 22", .drop),
        ("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", .pass),
        ("udp and port 53", .drop),
        ("icmp or icmp6", .pass),
        ("vlan", .drop),
        ("ip6 and tcp", .drop),
        ("net 192.168.0.0/16", .pass),
        ("ip[2:2] - ((ip[0] & 0xf) << 2) > 200", .drop),
        ("len > 1000", .pass),
        ("udp", .drop),
    ]

    func testCountersAtTCEgressAndXDPEqualLibpcapsFirstMatch() throws {
        try EndToEnd.requireRoot()
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let ruleset = try LibpcapRuleset(Self.rules)
        let frames = EndToEnd.sendableFrames(limit: 1500)

        // The sender's TC egress sees every frame sent; the receiver's XDP sees those egress let
        // through. Each policy is tried at each hook.
        for (egressPolicy, ingressPolicy) in [(Verdict.pass, Verdict.drop), (.drop, .pass)] {
            try quiet.apply(ruleset.rulesText(policy: egressPolicy), on: .a, hook: "tc-egress")
            try quiet.apply(ruleset.rulesText(policy: ingressPolicy), on: .b, hook: "xdp")
            let passed = frames.filter { ruleset.verdict(for: $0, policy: egressPolicy) == .pass }
            let accepted = try quiet.send(frames, from: .a)
            XCTAssertEqual(accepted, passed.count, "frames the sending socket saw leave (TC egress drops are refused)")

            let expectedEgress = ruleset.expectedCounters(frames)
            let egress = try quiet.counters(on: .a, hook: "tc-egress", settlingAt: frames.count)
            XCTAssertEqual(egress, expectedEgress, "tc-egress, policy \(egressPolicy): [packets, bytes] for the policy, rule 1, 2, ...")
            let expectedIngress = ruleset.expectedCounters(passed)
            let ingress = try quiet.counters(on: .b, hook: "xdp", settlingAt: passed.count)
            XCTAssertEqual(ingress, expectedIngress, "xdp, policy \(ingressPolicy): [packets, bytes] for the policy, rule 1, 2, ...")

            XCTAssertGreaterThanOrEqual(expectedEgress.filter { $0[0] > 0 }.count, 9, "the frames exercise nearly every rule")
            // With egress policy drop, XDP sees only what egress pass rules let through: four of them.
            XCTAssertGreaterThanOrEqual(expectedIngress.filter { $0[0] > 0 }.count, 4, "the frames XDP sees exercise several rules")
        }
    }
}

/// `apply` over rules already attached swaps the program with no moment in which frames get
/// through, and a rules file that fails leaves the running program counting.
final class AtomicReplaceTests: XCTestCase {
    static let streamPort: UInt16 = 7777, markerPort: UInt16 = 80
    /// Both drop the stream (A by rule 1, B by rule 2) and pass the markers.
    static let rulesetA = "policy pass\ndrop udp dst port \(streamPort)\npass tcp\ndrop udp\n"
    static let rulesetB = "policy pass\npass tcp port \(markerPort)\ndrop udp\n"
    /// Beyond XDP, at TC ingress of the same veth: counts stream frames that got through (rule 1)
    /// and markers (rule 2).
    static let observer = "policy pass\npass udp dst port \(streamPort)\npass tcp port \(markerPort)\n"

    func testReplacingUnderTrafficLetsNoFrameThroughAndFailuresKeepTheProgram() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let network = quiet.network
        let stream = PacketBuilder.ethernet(destination: network.b.mac, source: network.a.mac, type: 0x0800,
                                            PacketBuilder.ipv4(protocol: 17, PacketBuilder.udp(source: 4000, destination: Self.streamPort)))
        let marker = PacketBuilder.ethernet(destination: network.b.mac, source: network.a.mac, type: 0x0800,
                                            PacketBuilder.ipv4(protocol: 6, PacketBuilder.tcp(source: 4000, destination: Self.markerPort)))
        try quiet.apply(Self.rulesetA, on: .b, hook: "xdp")
        try quiet.apply(Self.observer, on: .b, hook: "tc-ingress")
        try quiet.send(Array(repeating: marker, count: 10), from: .a)
        XCTAssertEqual(try quiet.counters(on: .b, hook: "tc-ingress", settlingAt: 10).map { $0[0] }, [0, 0, 10],
                       "the observer beyond XDP sees the markers and nothing else")

        let sender = StreamSender(network: network, frame: stream, limit: 200_000, seconds: 40)
        sender.start()
        defer { sender.stop() }
        Thread.sleep(forTimeInterval: 0.2)
        for round in 0..<8 {
            let (rules, droppingSlot) = round % 2 == 0 ? (Self.rulesetB, 2) : (Self.rulesetA, 1)
            try quiet.apply(rules, on: .b, hook: "xdp")
            Thread.sleep(forTimeInterval: 0.1)
            let counters = try quiet.counters(on: .b, hook: "xdp")
            XCTAssertGreaterThan(counters[droppingSlot][0], 0, "round \(round): the new program drops the stream by rule \(droppingSlot)")
        }

        // Rules that fail to parse or compile: refused, the program stays attached and counting.
        let programID = try quiet.attachedProgramID(on: .b, hook: .xdp)
        XCTAssertNotNil(programID)
        // The last one is refused by the verifier: its jumps outgrow the 16 bits the verifier's
        // rewrites have (200 such rules take ~10 s to be refused).
        let tooLarge = "policy pass\n" + (1...200).map { "drop ip6 protochain \($0) and tcp port \($0)\n" }.joined()
        for broken in ["policy pass\ndrop udp port nosuchservice\n", "drop tcp and udp\n", "drop ip[\n", "reject udp\n", tooLarge] {
            let before = try quiet.counters(on: .b, hook: "xdp")[1][0]
            let end = network.b
            let result = try Xdpfw.run(["-n", end.namespace, "apply", "-", end.interfaceName], input: broken)
            XCTAssertEqual(result.status, 1, "\(broken.prefix(80)): \(result.standardError.prefix(300))")
            if broken == tooLarge { XCTAssertTrue(result.standardError.contains("verifier"), String(result.standardError.prefix(300))) }
            XCTAssertEqual(try quiet.attachedProgramID(on: .b, hook: .xdp), programID, String(broken.prefix(80)))
            Thread.sleep(forTimeInterval: 0.1)
            XCTAssertGreaterThan(try quiet.counters(on: .b, hook: "xdp")[1][0], before, "\(broken.prefix(80)): the old program keeps counting")
        }

        let sent = sender.stop()
        XCTAssertGreaterThan(sent, 1000, "the stream ran during the replacements")
        XCTAssertLessThan(sent, 200_000, "the stream was still running at the end")
        try quiet.send(Array(repeating: marker, count: 10), from: .a)
        let observed = try quiet.counters(on: .b, hook: "tc-ingress", settlingAt: 20)
        XCTAssertEqual(observed.map { $0[0] }, [0, 0, 20], "no stream frame got past XDP (rule 1); all 20 markers did (rule 2); \(sent) sent")

        // The observer does see stream frames XDP lets through: it would have caught a gap.
        try quiet.apply("policy pass\n", on: .b, hook: "xdp")
        try quiet.send(Array(repeating: stream, count: 5), from: .a)
        XCTAssertEqual(try quiet.counters(on: .b, hook: "tc-ingress", settlingAt: 25).map { $0[0] }, [0, 5, 20])
    }
}

/// Sends one frame over and over from side a on a thread of its own, until stopped, `limit`
/// frames or `seconds` passed, whichever comes first.
final class StreamSender: @unchecked Sendable {
    private let network: TestNetwork
    private let frame: [UInt8]
    private let limit: Int
    private let seconds: Double
    private let lock = NSLock()
    private var stopping = false
    private var sent = 0
    private let done = DispatchSemaphore(value: 0)
    private var thread: Thread?

    init(network: TestNetwork, frame: [UInt8], limit: Int, seconds: Double) {
        self.network = network
        self.frame = frame
        self.limit = limit
        self.seconds = seconds
    }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            let deadline = Date().addingTimeInterval(seconds)
            _ = try? network.run(in: .a) {
                let socket = try PacketSocket(interface: try NetworkInterface(name: network.a.interfaceName))
                defer { socket.close() }
                var count = 0
                while count < limit && Date() < deadline && !isStopping {
                    if try socket.send(frame) { count += 1 }
                    if count % 32 == 0 { usleep(6_000) }  // about 5 000 frames a second
                    if count % 256 == 0 { record(count) }
                }
                record(count)
            }
        }
        self.thread = thread
        thread.start()
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
    private func record(_ count: Int) { lock.lock(); sent = count; lock.unlock() }

    /// Stops the sender (once), waits for its thread, and returns how many frames it sent.
    @discardableResult
    func stop() -> Int {
        lock.lock()
        let first = !stopping
        stopping = true
        lock.unlock()
        if first && thread != nil { done.wait() }
        lock.lock(); defer { lock.unlock() }
        return sent
    }
}
