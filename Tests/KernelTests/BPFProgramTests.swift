import EBPF
import XCTest
import Kernel

/// Hand-encoded eBPF: `struct bpf_insn` as one little-endian UInt64 (code, regs, offset, immediate).
enum TinyProgram {
    static func instruction(code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64(dst & 0xf) << 8 | UInt64(src & 0xf) << 12
            | UInt64(UInt16(bitPattern: offset)) << 16 | UInt64(UInt32(bitPattern: imm)) << 32
    }
    /// r0 = value; exit
    static func returning(_ value: Int32) -> [UInt64] {
        [instruction(code: 0xb7, dst: 0, imm: value), instruction(code: 0x95)]
    }
    static let ethernetFrame: [UInt8] = [UInt8](repeating: 0xff, count: 6) + [2, 0, 0, 0, 0, 1, 0x08, 0x00]
        + [UInt8](repeating: 0, count: 46)
}

func skipUnlessRoot() throws {
    if !KernelSupport.isRoot { throw XCTSkip("needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON): run the tests as root") }
}

final class BPFProgramTests: XCTestCase {
    func testLoadAndTestRunXDP() throws {
        try skipUnlessRoot()
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "xdpfw_test_pass")
        defer { program.close() }
        XCTAssertGreaterThanOrEqual(program.fd, 0)
        XCTAssertNotNil(program.loadDuration)
        let run = try program.testRun(packet: TinyProgram.ethernetFrame, repeat: 10)
        XCTAssertEqual(run.returnValue, 2)
        XCTAssertEqual(run.packetOut, TinyProgram.ethernetFrame)
        let info = try program.info()
        XCTAssertEqual(info.name, "xdpfw_test_pass")
        XCTAssertTrue(info.isXDP)
        XCTAssertEqual(info.translatedInstructions, 2)
        XCTAssertEqual(info.tag.count, 16)
        XCTAssertGreaterThan(info.verifiedInstructions, 0)
        XCTAssertEqual(try BPFProgram.info(id: info.id).tag, info.tag)
    }

    func testLoadAndTestRunTC() throws {
        try skipUnlessRoot()
        let program = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(2), name: "xdpfw_test_tc")
        XCTAssertEqual(try program.testRun(packet: TinyProgram.ethernetFrame).returnValue, 2)
        XCTAssertTrue(try program.info().isSchedCLS)
    }

    func testVerifierRejectionCarriesLog() throws {
        try skipUnlessRoot()
        // `exit` with r0 never written.
        XCTAssertThrowsError(try BPFProgram.load(type: .xdp, instructions: [TinyProgram.instruction(code: 0x95)], name: "bad")) { error in
            guard case KernelError.verifierRejected(let name, _, let log) = error else {
                return XCTFail("expected a verifier rejection, got \(error)")
            }
            XCTAssertEqual(name, "bad")
            XCTAssertTrue(log.contains("R0"), log)
            XCTAssertTrue("\(error)".contains("verifier rejected"))
        }
    }

    func testShortPacketIsAClearError() throws {
        try skipUnlessRoot()
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(1), name: "short")
        XCTAssertThrowsError(try program.testRun(packet: [1, 2, 3]))
    }

    func testTestRunSizeLimits() throws {
        try skipUnlessRoot()
        let tc = try BPFProgram.load(type: .tc, instructions: TinyProgram.returning(0), name: "tc")
        let limit = Hook.Kind.tc.testRunLinearLimit
        XCTAssertNoThrow(try tc.testRun(packet: [UInt8](repeating: 0, count: limit)))
        XCTAssertThrowsError(try tc.testRun(packet: [UInt8](repeating: 0, count: limit + 1))) { error in
            XCTAssertTrue("\(error)".contains("type TC takes at most \(limit) bytes"), "\(error)")
        }
        // XDP: r0 = data_end - data shows how much of the packet the program sees.
        let seen = try BPFProgram.load(type: .xdp, instructions: [
            TinyProgram.instruction(code: 0x61, dst: 2, src: 1, offset: 0),  // r2 = ctx->data
            TinyProgram.instruction(code: 0x61, dst: 0, src: 1, offset: 4),  // r0 = ctx->data_end
            TinyProgram.instruction(code: 0x1f, dst: 0, src: 2),             // r0 -= r2
            TinyProgram.instruction(code: 0x95),
        ], name: "seen")
        let xdpLimit = Hook.Kind.xdp.testRunLinearLimit
        XCTAssertEqual(try seen.testRun(packet: [UInt8](repeating: 0, count: 1500)).returnValue, 1500)
        XCTAssertEqual(try seen.testRun(packet: [UInt8](repeating: 0, count: xdpLimit)).returnValue, UInt32(xdpLimit))
        XCTAssertEqual(try seen.testRun(packet: [UInt8](repeating: 0, count: 9000)).returnValue, UInt32(xdpLimit))
        XCTAssertEqual(seen.type, .xdp)
        XCTAssertEqual(try BPFProgram.fromID(try seen.info().id).type, .xdp)
    }

    func testWithoutPrivilegeTheErrorSaysSo() throws {
        if KernelSupport.isRoot { throw XCTSkip("runs only without root, to see the permission error") }
        XCTAssertThrowsError(try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "p")) { error in
            XCTAssertEqual(error as? KernelError, .permissionDenied(operation: "loading BPF program 'p'"))
            XCTAssertTrue("\(error)".contains("run as root"))
        }
    }

    func testNameIsSanitized() throws {
        try skipUnlessRoot()
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "a-very-long name with spaces")
        XCTAssertEqual(try program.info().name, "a_very_long_nam")
    }
}

extension TinyProgram {
    /// Adds 1 to the first UInt64 of element 0 of `counter` (a per-CPU array), then returns `verdict`.
    static func counting(into counter: BPFMap, verdict: Int32) -> [UInt64] {
        [
            instruction(code: 0x62, dst: 10, offset: -4, imm: 0),        // *(u32 *)(r10 - 4) = 0
            instruction(code: 0xbf, dst: 2, src: 10),                    // r2 = r10
            instruction(code: 0x07, dst: 2, imm: -4),                    // r2 += -4
            instruction(code: 0x18, dst: 1, src: 1, imm: counter.fd),    // r1 = map (ld_imm64, pseudo map fd)
            instruction(code: 0x00),
            instruction(code: 0x85, imm: 1),                             // call bpf_map_lookup_elem
            instruction(code: 0x15, dst: 0, offset: 3, imm: 0),          // if r0 == 0 goto +3
            instruction(code: 0x79, dst: 1, src: 0),                     // r1 = *(u64 *)(r0 + 0)
            instruction(code: 0x07, dst: 1, imm: 1),                     // r1 += 1
            instruction(code: 0x7b, dst: 0, src: 1),                     // *(u64 *)(r0 + 0) = r1
            instruction(code: 0xb7, dst: 0, imm: verdict),               // r0 = verdict
            instruction(code: 0x95),                                     // exit
        ]
    }
}

extension BPFProgramTests {
    func testCountingProgramUsesItsMap() throws {
        try skipUnlessRoot()
        let counter = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 1, name: "count")
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.counting(into: counter, verdict: 1), name: "count")
        XCTAssertEqual(try program.testRun(packet: TinyProgram.ethernetFrame, repeat: 7).returnValue, 1)
        XCTAssertEqual(try counter.sumUInt64(key: BPFMap.key(index: 0)), [7])
        XCTAssertEqual(try program.info().mapIDs, [counter.id])
    }
}

extension BPFProgramTests {
    func testLongVerifierLogIsFetchedWhole() throws {
        try skipUnlessRoot()
        // 80 000 × `r1 = 0`, then `exit` with r0 unset: the log (one line per instruction) is
        // larger than the first 1 MiB buffer.
        let program = [UInt64](repeating: TinyProgram.instruction(code: 0xb7, dst: 1, imm: 0), count: 80_000)
            + [TinyProgram.instruction(code: 0x95)]
        XCTAssertThrowsError(try BPFProgram.load(type: .xdp, instructions: program, name: "long")) { error in
            guard case KernelError.verifierRejected(_, _, let log) = error else { return XCTFail("\(error)") }
            XCTAssertGreaterThan(log.utf8.count, 1 << 20)
            XCTAssertTrue(log.hasPrefix("0: "), String(log.prefix(80)))
            XCTAssertTrue(log.contains("R0 !read_ok"), String(log.suffix(300)))
            XCTAssertFalse(log.contains("truncated"))
        }
    }
}
