import XCTest
import ClassicBPF
import DifferentialTesting
import EBPF
import FilterCompiler
import Kernel

/// Jumbo frames at XDP: a test run of a frame longer than a page gives the program a
/// multi-buffer frame (the first ~3.5 KiB linear, the rest in page-sized fragments). Rules that
/// read past the linear part, length rules and the byte counters must see the whole frame, as
/// libpcap does with the full frame.
final class MultiBufferKernelTests: XCTestCase {
    /// Payload bytes that differ from their neighbours, so that a load at a wrong offset differs.
    static func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) } }

    static func udp4(frame size: Int, vlans: [UInt16] = []) -> [UInt8] {
        let headers = 14 + 4 * vlans.count + 20 + 8
        return TestPackets.ethernet(0x0800, TestPackets.ipv4(protocol: 17, TestPackets.udp(payload: payload(size - headers))), vlans: vlans)
    }

    static func tcp4(frame size: Int) -> [UInt8] {
        TestPackets.ethernet(0x0800, TestPackets.ipv4(protocol: 6, TestPackets.tcp(destination: 22) + payload(size - 54)))
    }

    static func udp6(frame size: Int) -> [UInt8] {
        // Hop-by-hop and destination options (16 bytes each) before UDP.
        TestPackets.ethernet(0x86dd, TestPackets.ipv6(chain: [0, 60], final: 17, TestPackets.udp(payload: payload(size - 14 - 40 - 32 - 8))))
    }

    /// Frames ending around the linear limit (3,520) and the first fragment's end (3,520 + 4,096),
    /// up to 9,000 bytes, and a few ordinary ones.
    static let frames: [[UInt8]] = {
        let linear = Hook.Kind.xdp.testRunLinearLimit, firstFragmentEnd = linear + 4096
        var frames = [60, 1500, linear - 1, linear, linear + 1, linear + 4, 4000, firstFragmentEnd - 1,
                      firstFragmentEnd, firstFragmentEnd + 3, 8042, 9000].map { udp4(frame: $0) }
        frames += [3600, 9000].map(tcp4) + [5000, 9000].map(udp6) + [udp4(frame: 9000, vlans: [10])]
        return frames + TestPackets.frames.prefix(8)
    }()

    /// Expressions reading past the linear part, across its end and across a fragment's end,
    /// lengths, indexed loads whose index comes from the payload, and header rules; constants
    /// taken from the 9,000-byte frame, so that some frames match.
    static var expressions: [String] {
        let frame = udp4(frame: 9000)
        func byte(_ offset: Int) -> String { String(frame[offset]) }
        func word(_ offset: Int) -> String { "0x" + String(frame[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, radix: 16) }
        let linear = Hook.Kind.xdp.testRunLinearLimit
        return [
            "greater 8000", "less 3600", "len = 8042", "len > \(linear)", "greater \(linear + 1) and less \(linear + 4096)",
            "udp[5000] = \(byte(14 + 20 + 8 + 5000))", "ether[\(linear - 1):4] = \(word(linear - 1))",
            "ether[\(linear + 4094):4] = \(word(linear + 4094))", "ether[8999] = \(byte(8999))", "ether[9000] = 0",
            "ip[ip[3000]] = \(byte(14 + Int(frame[14 + 3000])))", "ip[ip[3000] * 16] > 7",
            "udp[len - 50] = \(byte(9000 - 50 + 34))", "ip6 and ip6[4000:2] > 0x100", "ip6 protochain 17",
            "vlan 10 and udp[6000] = \(byte(14 + 4 + 20 + 8 + 6000))", "tcp dst port 22 and tcp[3000:2] > 0",
            "udp", "tcp dst port 22", "ip[2:2] > 4000",
        ]
    }

    /// Linear parts the test run is asked for besides its default: the kernel (6.18+) honours
    /// `xdp_md.data_end` as the linear size; nil when it does not (then only the default runs).
    static func linearSizes(probe: BPFProgram) -> [Int?] {
        let frame = udp4(frame: 9000)
        guard let result = try? probe.testRun(packet: frame, linearBytes: 200), result.returnValue == 200 else { return [nil] }
        return [nil, 128, 200, 1000]
    }

    func testFiltersReadJumboFramesAsLibpcapAtXDPAndTC() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        // r0 = data_end - data: how much of the frame is linear.
        let probe = try BPFProgram.load(type: .xdp, instructions: [
            0x0000_0000_0000_1261, 0x0000_0000_0004_1061, 0x0000_0000_0000_201f, 0x0000_0000_0000_0095,
        ], name: "linear")
        defer { probe.close() }
        XCTAssertEqual(try probe.testRun(packet: Self.udp4(frame: 9000)).returnValue, UInt32(Hook.Kind.xdp.testRunLinearLimit),
                       "a 9,000-byte test frame is multi-buffer")
        let linearSizes = Self.linearSizes(probe: probe)
        if linearSizes.count == 1 { print("this kernel's test run does not take a linear size: default linear part only") }
        var runs = 0, matches = 0, mismatches: [String] = []
        for expression in Self.expressions {
            guard case let .success(classic) = Libpcap.compile(expression, optimize: true) else {
                XCTFail("libpcap refuses '\(expression)'"); continue
            }
            let filter = try XCTUnwrap(KernelDifferentialTests.ourProgram(expression), expression)
            let expected = Self.frames.map { Libpcap.filter(classic, packet: $0, wireLength: UInt32($0.count)) != 0 }
            for hook in KernelDifferentialTests.hooks {
                let instructions = try EBPFFilterProgram.generate(filter, hook: hook.context)
                let program = try BPFProgram.load(type: hook.type, instructions: instructions.encoded, name: "jumbo", xdpFragments: hook.xdpFragments)
                defer { program.close() }
                for (index, frame) in Self.frames.enumerated() where frame.count <= hook.frameLimit {
                    for linear in hook.type == .xdp && hook.xdpFragments ? linearSizes : [nil] where (linear ?? 0) < frame.count {
                        let result = try program.testRun(packet: frame, linearBytes: linear)
                        runs += 1
                        if expected[index] { matches += 1 }
                        let verdict = KernelDifferentialTests.verdict(of: result.returnValue, at: hook.context)
                        if verdict != (expected[index] ? .pass : .drop) && mismatches.count < 20 {
                            mismatches.append("\(hook.name) '\(expression)' frame \(index) (\(frame.count) bytes, linear \(linear.map(String.init) ?? "default")): libpcap \(expected[index] ? "accepts" : "rejects")")
                        }
                    }
                }
            }
        }
        print("jumbo frames: \(Self.expressions.count) expressions, \(Self.frames.count) frames, \(runs) runs agree with libpcap but \(mismatches.count); \(matches) matches")
        XCTAssertEqual(mismatches, [])
        XCTAssertGreaterThan(matches, runs / 10, "the frames match the expressions often enough to tell")
    }

    /// The test run's longest multi-buffer frame (`testRunFrameLimit`): that many bytes run, one more do not.
    func testTestRunTakesFramesUpToItsFrameLimit() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let filter = try XCTUnwrap(KernelDifferentialTests.ourProgram("greater 9000"))
        let program = try BPFProgram.load(type: .xdp, instructions: try EBPFFilterProgram.generate(filter, hook: .xdp).encoded, name: "limit")
        defer { program.close() }
        let limit = Hook.Kind.xdp.testRunFrameLimit
        XCTAssertEqual(try program.testRun(packet: [UInt8](repeating: 0, count: limit)).returnValue, 2, "XDP_PASS: len is the whole frame")
        XCTAssertThrowsError(try program.testRun(packet: [UInt8](repeating: 0, count: limit + 1))) { error in
            XCTAssertTrue("\(error)".contains("takes at most \(limit) bytes"), "\(error)")
        }
    }

    /// A ruleset with payload, length and port rules (merged into lookups, or not): per-rule
    /// packets and bytes count whole frames, as libpcap's first match over them.
    func testRulesetCountsWholeJumboFramesAsLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let expressions = Self.expressions
        let rules: [(expression: String, verdict: Verdict)] = [
            (expressions[5], .pass), ("tcp dst port 80", .drop), ("tcp dst port 22", .pass), ("greater 8000", .drop),
            (expressions[7], .pass), ("udp dst port 53", .drop), ("ip6 protochain 17", .drop), ("len > 3520", .pass),
        ]
        // TC's test run refuses frames over a page: those run at XDP only.
        try compareFirstMatch(rules, packets: Self.frames, policy: .drop, label: "jumbo frames")
    }
}
