import XCTest
import ClassicBPF
import DifferentialTesting
import FilterCompiler
import FilterLanguage
import Kernel
@testable import EBPF

/// The generated programs in the kernel: every one must pass the verifier, and for every
/// packet BPF_PROG_TEST_RUN's verdict must be libpcap's (`bpf_filter` with wire length =
/// captured length) on the same expression.
final class KernelDifferentialTests: XCTestCase {
    /// Expressions beyond the corpus: the loop, arithmetic corner cases, loads near the end.
    static let ownExpressions = [
        "ip6 protochain 6", "ip protochain 17", "protochain 6", "ip6 protochain 17 or tcp port 80",
        "ether[0] / ether[1] > 2", "ether[0] % ether[1] > 2", "ether[0] << ether[1] > 2",
        "ether[0] >> ether[1] = 0", "ip[0] % 3 = 1", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn",
        "vlan 100 and udp", "vlan and vlan 200", "mpls and tcp", "len > 100", "len - 14 < ether[16:2]",
        "ether[len - 1] = 0", "ether[len - 4:4] != 0", "ether[60000] = 1", "ether[32760:4] = 1",
        "ip[ip[0] & 0xf] = 0", "tcp[13] & 2 != 0 and ip[6:2] & 0x1fff = 0", "icmp6 and ip6[40] = 128",
        "ether broadcast or ether multicast", "not ip and not ip6", "udp[8:4] = 0x01020304",
        "ip[2:2] * 2 - 7 > ip[3] ^ 5 | 2", "-ip[0] & 0xff = 0xbb", "ip and ip[0] >> 5 = 2",
        "inbound", "outbound", "ifindex 3", "inbound and tcp",
    ]

    /// BPF_PROG_TEST_RUN copies at most a page minus head- and tailroom of linear data.
    static let testRunLimit = 3520

    struct TestHook {
        var context: any HookContext
        var type: Hook.Kind
        /// A single-buffer XDP program (what `apply` attaches at a usual MTU) loads without
        /// BPF_F_XDP_HAS_FRAGS, and the test run then takes no frame longer than a page.
        var xdpFragments: Bool { (context as? XDPHook)?.multiBuffer ?? true }
        var frameLimit: Int { xdpFragments ? type.testRunFrameLimit : type.testRunLinearLimit }
        var name: String { xdpFragments || type != .xdp ? context.name : "xdp single-buffer" }
    }
    /// XDP multi-buffer and single-buffer, and TC.
    static let hooks = [TestHook(context: .xdp, type: .xdp), TestHook(context: XDPHook(multiBuffer: false), type: .xdp),
                        TestHook(context: .tc, type: .tc)]

    static func verdict(of result: UInt32, at hook: any HookContext) -> Verdict? {
        Verdict.allCases.first { UInt32(bitPattern: hook.returnCode(for: $0)) == result }
    }

    /// libpcap's own program for each expression, lifted to the IR: tests the back end alone.
    func testLibpcapProgramsGiveLibpcapsVerdictInTheKernel() throws {
        try compareWithLibpcap(frontEnd: "libpcap's programs lifted") { expression, classic in
            ClassicLifter.lift(classic)
        }
    }

    /// Our whole pipeline: parser, code generator, optimizer, eBPF back end.
    /// (FilterCompiler.compile, once it lands, is exactly these three steps.)
    func testOurCompilerGivesLibpcapsVerdictInTheKernel() throws {
        try compareWithLibpcap(frontEnd: "our compiler") { expression, _ in Self.ourProgram(expression) }
    }

    static func ourProgram(_ expression: String) -> FilterProgram? {
        guard let syntax = try? FilterParser.parse(expression),
              let program = try? FilterCodeGenerator.generate(syntax, options: CompileOptions()) else { return nil }
        return try? Optimizer.optimize(program)
    }

    /// Every corpus expression and our own, through `frontEnd`, at XDP and TC: loaded (the
    /// verifier must accept each) and run on every packet; the verdict must be libpcap's.
    func compareWithLibpcap(frontEnd: String, expressions chosen: [String]? = nil,
                            _ compile: (String, [ClassicInstruction]) -> FilterProgram?) throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        var seen = Set<String>()
        let expressions = (chosen ?? Corpus.acceptedExpressions.map(\.text) + Self.ownExpressions).filter { seen.insert($0).inserted }
        var distinct = Set<[UInt8]>()
        let packets = (Corpus.captures.packets.map(\.packet.bytes) + TestPackets.all)
            .filter { $0.count >= 14 && $0.count <= Self.testRunLimit && distinct.insert($0).inserted }
        var runs = 0, agreements = 0, loaded = 0
        var verifierFailures: [String] = [], mismatches: [String] = [], skipped: [String] = []
        var refusedPackets = Set<String>()
        for expression in expressions {
            guard case let .success(classic) = Libpcap.compile(expression, optimize: true),
                  let filter = compile(expression, classic) else {
                skipped.append("\(expression): no program from \(frontEnd)"); continue
            }
            if filter.usesAncillaryData {
                // libpcap's bpf_filter has no socket buffer to read metadata from; only load these.
                for hook in Self.hooks { try load(filter, hook, expression, failures: &verifierFailures)?.close() }
                skipped.append("\(expression): reads packet metadata, loaded only")
                continue
            }
            let expected = packets.map { Libpcap.filter(classic, packet: $0, wireLength: UInt32($0.count)) != 0 }
            for hook in Self.hooks {
                guard let program = try load(filter, hook, expression, failures: &verifierFailures) else { continue }
                loaded += 1
                defer { program.close() }
                for (index, packet) in packets.enumerated() {
                    // The kernel refuses to build a socket buffer around some malformed frames.
                    guard let result = try? program.testRun(packet: packet) else {
                        refusedPackets.insert("\(hook.name) packet \(index) (\(packet.count) bytes)")
                        continue
                    }
                    runs += 1
                    let verdict = Self.verdict(of: result.returnValue, at: hook.context)
                    if verdict == (expected[index] ? .pass : .drop) {
                        agreements += 1
                    } else if mismatches.count < 20 {
                        mismatches.append("\(hook.name) '\(expression)' packet \(index) (\(packet.count) bytes): libpcap \(expected[index] ? "accepts" : "rejects"), eBPF returned \(result.returnValue)")
                    }
                }
            }
        }
        let rate = runs == 0 ? 0 : Double(agreements) / Double(runs) * 100
        print("eBPF (\(frontEnd)) vs libpcap: \(expressions.count) expressions, \(loaded) programs loaded, \(verifierFailures.count) verifier failures, \(packets.count) packets, \(agreements)/\(runs) verdicts agree (\(String(format: "%.4f", rate))%)")
        skipped.forEach { print("  skipped: \($0)") }
        if !refusedPackets.isEmpty {
            print("  BPF_PROG_TEST_RUN refused \(refusedPackets.count) hook/packet pairs: \(refusedPackets.sorted().prefix(10).joined(separator: ", "))")
        }
        XCTAssertEqual(verifierFailures, [], "programs the verifier refused")
        XCTAssertEqual(mismatches, [], "verdicts that differ from libpcap's")
        XCTAssertGreaterThan(runs, 0)
    }

    func testLoopGivesUpAfterItsIterationLimit() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        guard case let .success(classic) = Libpcap.compile("ip6 protochain 6", optimize: true),
              let filter = ClassicLifter.lift(classic) else { return XCTFail("libpcap could not compile protochain") }
        let packet = TestPackets.overlongHeaderChain
        XCTAssertNotEqual(Libpcap.filter(classic, packet: packet, wireLength: UInt32(packet.count)), 0,
                          "libpcap walks the whole chain")
        var failures: [String] = []
        for hook in Self.hooks {
            let program = try XCTUnwrap(try load(filter, hook, "ip6 protochain 6", failures: &failures))
            defer { program.close() }
            XCTAssertEqual(Self.verdict(of: try program.testRun(packet: packet).returnValue, at: hook.context), .drop,
                           "\(hook.name): more than \(MachineLayout.loopIterationLimit) headers do not match")
        }
        XCTAssertEqual(failures, [])
    }

    /// The program, or nil (with the verifier's complaint in `failures`) when the kernel refuses it.
    func load(_ filter: FilterProgram, _ hook: TestHook, _ expression: String, failures: inout [String]) throws -> BPFProgram? {
        let instructions = try EBPFFilterProgram.generate(filter, hook: hook.context)
        do {
            return try BPFProgram.load(type: hook.type, instructions: instructions.encoded, name: "xdpfw_test", xdpFragments: hook.xdpFragments)
        } catch {
            let log = "\(error)".split(separator: "\n").suffix(4).joined(separator: " / ")
            failures.append("\(hook.name) '\(expression)' (\(instructions.count) instructions): \(log)")
            return nil
        }
    }
}
