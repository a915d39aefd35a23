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
    try XCTSkipUnless(KernelSupport.isRoot, "needs root (CAP_BPF, CAP_NET_ADMIN): run the tests as root")
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
        let program = try BPFProgram.load(type: .schedCLS, instructions: TinyProgram.returning(2), name: "xdpfw_test_tc")
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

    func testNameIsSanitized() throws {
        try skipUnlessRoot()
        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "a-very-long name with spaces")
        XCTAssertEqual(try program.info().name, "a_very_long_nam")
    }
}
