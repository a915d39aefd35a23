import XCTest
@testable import EBPF

final class InstructionEncodingTests: XCTestCase {
    func testEncodingFollowsStructBPFInsnLayout() {
        // r2 = *(u16 *)(r1 +12): BPF_LDX | BPF_H | BPF_MEM = 0x69
        let load = EBPFInstruction(opcode: Opcode.classLoadX | MemorySize.half.rawValue | Opcode.modeMemory,
                                   dst: 2, src: 1, offset: 12)
        XCTAssertEqual(load.opcode, 0x69)
        XCTAssertEqual(load.encoded, 0x69 | 2 << 8 | 1 << 12 | 12 << 16)
        // Negative offsets and immediates keep their two's-complement bits.
        let store = EBPFInstruction(opcode: 0x7a, dst: 10, offset: -8, immediate: -1)
        XCTAssertEqual(store.encoded, 0xffff_ffff_fff8_0a7a)
        XCTAssertEqual(EBPFInstruction(encoded: store.encoded), store)
    }

    func testLoadImmediate64TakesTwoSlots() {
        let slots = EBPFInstruction.loadImmediate64(.r3, 0x1122_3344_5566_7788)
        XCTAssertEqual(slots.count, 2)
        XCTAssertEqual(slots[0].encoded, 0x5566_7788_0000_0318)
        XCTAssertEqual(slots[1].encoded, 0x1122_3344_0000_0000)
    }

    func testMapReferencesResolveToFileDescriptors() throws {
        var asm = Assembler()
        asm.loadMap(.r1, named: .counters)
        asm.move(.r0, 0)
        asm.exit()
        var program = try asm.assemble()
        XCTAssertEqual(program.mapReferences, [.counters])
        XCTAssertEqual(program[0].src, Opcode.pseudoMapFD)
        var unresolved = program
        XCTAssertThrowsError(try unresolved.resolveMaps([.chunks: 3]))
        try program.resolveMaps([.counters: 7])
        XCTAssertEqual(program[0].immediate, 7)
        XCTAssertEqual(program[0].encoded, 0x0000_0007_0000_1118)
        XCTAssertEqual(program.count, 4)
    }
}

final class AssemblerTests: XCTestCase {
    func testForwardAndBackwardLabelsResolveToSlotOffsets() throws {
        var asm = Assembler()
        let out = asm.newLabel("out")
        let top = asm.newLabel("top")
        asm.move(.r2, 0)                       // 0
        asm.label(top)
        asm.add(.r2, 1)                        // 1
        asm.loadImmediate64(.r3, 5)            // 2, 3
        asm.jump(if: .greater, .r2, .r3, to: out)  // 4: to 7 → +2
        asm.move(.r4, 1)                       // 5
        asm.jump(to: top)                    // 6: to 1 → -6
        asm.label(out)
        asm.move(.r0, 0)                       // 7
        asm.exit()                             // 8
        let program = try asm.assemble()
        XCTAssertEqual(program.count, 9)
        XCTAssertEqual(program[4].offset, 2)
        XCTAssertEqual(program[6].offset, -6)
    }

    func testJumpIfEqualBuildsAConditionalJump() throws {
        var asm = Assembler()
        let ip = asm.newLabel("ip")
        asm.jumpIfEqual(.r2, 0x800, to: ip)
        asm.move(.r0, 1)
        asm.exit()
        asm.label(ip)
        asm.move(.r0, 2)
        asm.exit()
        let program = try asm.assemble()
        XCTAssertEqual(program[0].opcode, Opcode.classJump | JumpCondition.equal.rawValue)
        XCTAssertEqual(program[0].immediate, 0x800)
        XCTAssertEqual(program[0].offset, 2)
    }

    func testUndefinedAndDuplicateLabelsAreErrors() {
        var undefined = Assembler()
        let nowhere = undefined.newLabel("nowhere")
        undefined.jump(to: nowhere)
        XCTAssertThrowsError(try undefined.assemble()) { XCTAssertTrue("\($0)".contains("nowhere")) }

        var duplicate = Assembler()
        let a = duplicate.newLabel("a")
        duplicate.label(a); duplicate.exit()
        duplicate.label(a); duplicate.exit()
        XCTAssertThrowsError(try duplicate.assemble()) { XCTAssertTrue("\($0)".contains("twice")) }
    }

    func testOffsetsBeyondSixteenBitsAreErrors() throws {
        func program(filler: Int) throws -> [EBPFInstruction] {
            var asm = Assembler()
            let far = asm.newLabel("far")
            asm.jumpIfEqual(.r1, 0, to: far)
            for _ in 0..<filler { asm.add(.r0, 1) }
            asm.exit()
            asm.label(far)
            asm.exit()
            return try asm.assemble()
        }
        // The jump skips `filler` additions and one exit.
        XCTAssertEqual(try program(filler: 32766)[0].offset, 32767)
        XCTAssertThrowsError(try program(filler: 32767)) { XCTAssertTrue("\($0)".contains("32768")) }
    }

    func testUnreachableCodeAndJumpsToTheNextInstructionAreDropped() throws {
        var asm = Assembler()
        let next = asm.newLabel("next")
        asm.jump(to: next)         // jumps to the very next instruction: dropped
        asm.label(next)
        asm.move(.r0, 1)
        asm.exit()
        asm.move(.r0, 2)             // nothing reaches these
        asm.jump(to: next)
        let program = try asm.assemble()
        XCTAssertEqual(program.map(\.opcode), [0xb7, 0x95])
    }
}

final class FormatTests: XCTestCase {
    func testListingUsesVerifierSyntax() throws {
        var asm = Assembler()
        let drop = asm.newLabel("drop")
        asm.load(.half, .r2, from: .r1, offset: 12)
        asm.byteSwapFromBigEndian(.r2, bits: 16)
        asm.jump(if: .notEqual, .r2, 0x800, to: drop, width: .bits32)
        asm.store(.double, to: .r10, offset: -8, from: .r2)
        asm.alu(.shiftLeft, .r6, 2, width: .bits32)
        asm.loadMap(.r1, named: .counters)
        asm.call(.mapLookupElement)
        asm.move(.r0, 2)
        asm.exit()
        asm.label(drop)
        asm.move(.r0, 1)
        asm.exit()
        let listing = Format.listing(try asm.assemble())
        XCTAssertEqual(listing, """
             0: (69) r2 = *(u16 *)(r1 +12)
             1: (dc) r2 = be16 r2
             2: (56) if w2 != 0x800 goto +7
             3: (7b) *(u64 *)(r10 -8) = r2
             4: (64) w6 <<= 2
             5: (18) r1 = map[counters]
             7: (85) call bpf_map_lookup_elem#1
             8: (b7) r0 = 2
             9: (95) exit
            10: (b7) r0 = 1
            11: (95) exit

            """)
    }

    func testEveryInstructionOfAGeneratedProgramHasAListingLine() throws {
        let text = Format.text(EBPFInstruction(opcode: 0xff))
        XCTAssertTrue(text.contains("bad opcode"))
        XCTAssertEqual(Format.text(EBPFInstruction(opcode: Opcode.jumpAlways, offset: -3)), "goto -3")
        XCTAssertEqual(Format.text(EBPFInstruction(opcode: 0x84, dst: 6)), "w6 = -w6")
        XCTAssertEqual(Format.listing(EBPFInstruction.loadImmediate64(.r3, 0x1_0000_0002)), "0: (18) r3 = 0x100000002 ll\n")
    }
}

final class AssemblerSimplificationTests: XCTestCase {
    func testConditionalJumpOverAGotoIsInverted() throws {
        var asm = Assembler()
        let small = asm.newLabel("small")
        let big = asm.newLabel("big")
        asm.jump(if: .greater, .r6, 1000, to: small, width: .bits32)
        asm.jump(to: big)
        asm.label(small)
        asm.move(.r0, 1)
        asm.exit()
        asm.label(big)
        asm.move(.r0, 2)
        asm.exit()
        let program = try asm.assemble()
        XCTAssertEqual(Format.listing(program), """
            0: (b6) if w6 <= 0x3e8 goto +2
            1: (b7) r0 = 1
            2: (95) exit
            3: (b7) r0 = 2
            4: (95) exit

            """)
    }

    func testAGotoOthersJumpToIsKept() throws {
        var asm = Assembler()
        let skip = asm.newLabel("skip")
        let after = asm.newLabel("after")
        let end = asm.newLabel("end")
        asm.jumpIfEqual(.r1, 0, to: skip)
        asm.jumpIfEqual(.r2, 0, to: after)
        asm.label(skip)
        asm.jump(to: end)
        asm.label(after)
        asm.move(.r0, 1)
        asm.exit()
        asm.label(end)
        asm.move(.r0, 2)
        asm.exit()
        let program = try asm.assemble()
        XCTAssertEqual(program.count, 7)
        XCTAssertEqual(program[0].offset, 1)
        XCTAssertEqual(program[2].opcode, Opcode.jumpAlways)
    }
}
