import ClassicBPF
import DifferentialTesting
import Dispatch
import Kernel
import XCTest
import Ruleset

/// Our interpreter against libpcap's `bpf_filter`, running libpcap's own programs.
final class InterpreterTests: XCTestCase {
    func testInterpreterAgreesWithBpfFilterOnLibpcapPrograms() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        // Optimized programs on every packet; the longer unoptimized ones on the quick set.
        let jobs = Corpus.acceptedExpressions.flatMap { [($0, true), ($0, false)] }
        let reports = ParallelRun.map(jobs) { expression, optimize -> (String?, Bool) in
            guard case let .success(program) = Libpcap.compile(expression.text, optimize: optimize) else { return (nil, false) }
            let reference = Libpcap.PreparedFilter(program)
            let comparison = VerdictComparison.compare(optimize ? PacketCatalog.differentialSet : PacketCatalog.quickSet, exact: true,
                expected: { reference.run(packet: $0.bytes, wireLength: $0.wireLength) },
                actual: { ClassicInterpreter.run(program, packet: $0.bytes, wireLength: $0.wireLength) })
            let report = comparison.agrees ? nil : comparison.report("\(expression.name) '\(expression.text)' optimize=\(optimize)")
            return (report, comparison.accepted > 0)
        }
        for case let (report?, _) in reports { XCTFail(report) }
        print("interpreter vs bpf_filter: \(jobs.count) libpcap programs on \(PacketCatalog.differentialSet.count) packets"
              + " (unoptimized: \(PacketCatalog.quickSet.count)); \(reports.filter(\.1).count) accepted some packet")
    }

    /// Random well-formed programs over every opcode bpf_filter runs, on built packets.
    func testInterpreterAgreesWithBpfFilterOnRandomPrograms() {
        var generator = SystemRandomNumberGenerator()
        let codes = Array(ClassicOpcode.known).sorted()
        let packets = Array(PacketCatalog.frames.filter { $0.bytes.count > 0 }.prefix(40))
        var programs = 0
        while programs < 3000 {
            let length = Int.random(in: 2...24, using: &generator)
            var program: [ClassicInstruction] = (0..<length - 1).map { index in
                let code = codes.randomElement(using: &generator)!
                let k: UInt32 = [UInt32.random(in: 0...80, using: &generator), UInt32.random(in: 0...15, using: &generator),
                                 UInt32.random(in: 0...UInt32.max, using: &generator), 0xffff_f000 + 4 * UInt32.random(in: 0...15)].randomElement()!
                let span = UInt8(min(255, length - 2 - index))
                var instruction = ClassicInstruction(code: code, jt: UInt8.random(in: 0...span), jf: UInt8.random(in: 0...span), k: k)
                if code == ClassicOpcode.jmp | ClassicOpcode.ja { instruction.k = UInt32.random(in: 0...UInt32(span)) }
                return instruction
            }
            program.append(ClassicInstruction(code: ClassicOpcode.ret | ClassicOpcode.a))
            // bpf_filter leaves scratch memory uninitialized: write every slot first.
            program = (0..<16).map { ClassicInstruction(code: ClassicOpcode.st, k: $0) } + program
            guard Libpcap.isSafeForFilter(program) else { continue }
            programs += 1
            let reference = Libpcap.PreparedFilter(program)
            let comparison = VerdictComparison.compare(packets, exact: true,
                expected: { reference.run(packet: $0.bytes, wireLength: $0.wireLength) },
                actual: { ClassicInterpreter.run(program, packet: $0.bytes, wireLength: $0.wireLength) })
            if !comparison.agrees {
                XCTFail(comparison.report("random program\n" + ClassicPrinter.format(program, as: .assembly)))
                return
            }
        }
    }

    func testMalformedProgramsReturnWithoutCrashing() {
        let samples: [[ClassicInstruction]] = [
            [],
            [ClassicInstruction(code: 0xff)],
            [ClassicInstruction(code: 0x104), ClassicInstruction(code: ClassicOpcode.ret, k: 1)],
            [ClassicInstruction(code: ClassicOpcode.ld | ClassicOpcode.mem, k: 99)],
            [ClassicInstruction(code: ClassicOpcode.jmp | ClassicOpcode.ja, k: 0xffff_ffff)],
            [ClassicInstruction(code: ClassicOpcode.jmp | ClassicOpcode.jeq, jt: 200, jf: 200)],
            [ClassicInstruction(code: ClassicOpcode.alu | ClassicOpcode.div | ClassicOpcode.k, k: 0), ClassicInstruction(code: ClassicOpcode.ret, k: 1)],
            [ClassicInstruction(code: ClassicOpcode.ld | ClassicOpcode.imm, k: 1)],
        ]
        for program in samples {
            XCTAssertEqual(ClassicInterpreter.run(program, packet: [1, 2, 3], wireLength: 3), 0)
            XCTAssertEqual(Libpcap.filter(program, packet: [1, 2, 3], wireLength: 3), 0)
        }
        let loop = [ClassicInstruction(code: ClassicOpcode.jmp | ClassicOpcode.ja, k: 0xffff_ffff)]
        XCTAssertEqual(ClassicInterpreter.run(loop + [ClassicInstruction(code: ClassicOpcode.ret, k: 1)], packet: [], wireLength: 0), 0)
    }
}
