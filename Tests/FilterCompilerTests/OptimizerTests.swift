import XCTest
@testable import FilterCompiler

/// The optimizer on programs built here: hand-made ones shaped like the code generator's output
/// and random acyclic ones, checked against the unoptimized program by running both.
final class OptimizerTests: XCTestCase {
    /// `ldh [12]; jeq #0x800` twice in a row, then a port test: the second ethertype test is
    /// decided by the first and its reload disappears.
    func testRepeatedTestIsJumpedOver() throws {
        let program = FilterProgram(blocks: [
            Block(statements: [.loadPacket(.half, offset: 12)], terminator: .branch(.equal, .constant(0x800), ifTrue: 1, ifFalse: 4)),
            Block(statements: [.loadPacket(.half, offset: 12)], terminator: .branch(.equal, .constant(0x800), ifTrue: 2, ifFalse: 4)),
            Block(statements: [.loadPacket(.byte, offset: 23)], terminator: .branch(.equal, .constant(6), ifTrue: 3, ifFalse: 4)),
            Block(terminator: .verdict(262144)),
            Block(terminator: .verdict(0)),
        ], entry: 0)
        let optimized = try Optimizer.optimize(program)
        XCTAssertEqual(optimized.blocks.count, 4)
        XCTAssertEqual(statementCount(optimized), 2)
        assertSameVerdicts(program, optimized, packets: packets(seed: 1, count: 300))
    }

    /// The scratch-register arithmetic the code generator emits for `ip[2:2] & 3 = 1` becomes
    /// one load, one `and #3` and one `jeq #1`.
    func testScratchArithmeticFolds() throws {
        let program = FilterProgram(blocks: [
            Block(statements: [.loadPacket(.half, offset: 12)], terminator: .branch(.equal, .constant(0x800), ifTrue: 1, ifFalse: 3)),
            Block(statements: [
                .loadConstant(2), .storeA(0), .loadXScratch(0), .loadPacketIndexed(.half, offset: 14), .storeA(1),
                .loadConstant(3), .storeA(2), .loadXScratch(2), .loadScratch(1), .arithmetic(.and, .x), .storeA(2),
                .loadConstant(1), .storeA(3), .loadXScratch(3), .loadScratch(2), .arithmetic(.subtract, .x),
            ], terminator: .branch(.equal, .constant(0), ifTrue: 2, ifFalse: 3)),
            Block(terminator: .verdict(262144)),
            Block(terminator: .verdict(0)),
        ], entry: 0)
        let optimized = try Optimizer.optimize(program)
        XCTAssertEqual(optimized.blocks.map(\.statements), [
            [.loadPacket(.half, offset: 12)],
            [.loadPacket(.half, offset: 16), .arithmetic(.and, .constant(3))],
            [], [],
        ])
        XCTAssertEqual(optimized.blocks[1].terminator, .branch(.equal, .constant(1), ifTrue: 2, ifFalse: 3))
        // An IPv4 packet whose ip[2:2] & 3 is 1, which the random samples never are.
        var matching = [UInt8](repeating: 0, count: 34)
        matching[12] = 0x08; matching[17] = 0x01
        assertSameVerdicts(program, optimized, packets: packets(seed: 2, count: 300) + [matching])
    }

    /// `ld #13; add x; tax; ldb [x+14]` after the header length load becomes `ldb [x+27]`, and
    /// `and #2; jeq #0` becomes `jset #2` with the arms swapped.
    func testIndexOffsetAndMaskFold() throws {
        let program = FilterProgram(blocks: [
            Block(statements: [
                .loadConstant(13), .storeA(0), .loadXHeaderLength(offset: 14), .loadScratch(0),
                .arithmetic(.add, .x), .moveAToX(), .loadPacketIndexed(.byte, offset: 14), .storeA(1),
                .loadConstant(2), .storeA(2), .loadXScratch(2), .loadScratch(1), .arithmetic(.and, .x),
            ], terminator: .branch(.equal, .constant(0), ifTrue: 2, ifFalse: 1)),
            Block(terminator: .verdict(262144)),
            Block(terminator: .verdict(0)),
        ], entry: 0)
        let optimized = try Optimizer.optimize(program)
        XCTAssertEqual(optimized.blocks[0].statements, [.loadXHeaderLength(offset: 14), .loadPacketIndexed(.byte, offset: 27)])
        XCTAssertEqual(optimized.blocks[0].terminator, .branch(.bitsSet, .constant(2), ifTrue: 1, ifFalse: 2))
        assertSameVerdicts(program, optimized, packets: packets(seed: 3, count: 300))
    }

    /// An edge may skip a block whose test it already knows only when the block computes
    /// nothing the rest reads: here the skipped block stores M[0], which is read afterwards.
    func testThreadingKeepsStatementsThatAreRead() throws {
        let program = FilterProgram(blocks: [
            Block(statements: [.loadPacket(.byte, offset: 1)], terminator: .branch(.equal, .constant(0), ifTrue: 2, ifFalse: 1)),
            Block(statements: [.loadPacket(.half, offset: 12)], terminator: .branch(.equal, .constant(1), ifTrue: 2, ifFalse: 4)),
            Block(statements: [.loadPacket(.byte, offset: 0), .storeA(0), .loadPacket(.half, offset: 12)],
                  terminator: .branch(.equal, .constant(1), ifTrue: 3, ifFalse: 4)),
            Block(statements: [.loadScratch(0)], terminator: .branch(.equal, .constant(5), ifTrue: 5, ifFalse: 4)),
            Block(terminator: .verdict(0)),
            Block(terminator: .verdict(1)),
        ], entry: 0)
        var packet = [UInt8](repeating: 0, count: 20)
        packet[0] = 5; packet[1] = 7; packet[13] = 1
        let samples = packets(seed: 6, count: 300) + [packet]
        assertSameVerdicts(program, try Optimizer.optimize(program), packets: samples)
    }

    /// A test pulled up a chain of alternatives must not leave behind a store that is read
    /// later: here the third block stores M[0], which the last block reads.
    func testChainReorderingKeepsStoresThatAreRead() throws {
        let program = FilterProgram(blocks: [
            Block(statements: [.loadPacket(.byte, offset: 0)], terminator: .branch(.equal, .constant(1), ifTrue: 4, ifFalse: 1)),
            Block(statements: [.loadPacket(.byte, offset: 1)], terminator: .branch(.equal, .constant(1), ifTrue: 4, ifFalse: 2)),
            Block(statements: [.loadPacket(.byte, offset: 3), .storeA(0), .loadPacket(.byte, offset: 0)],
                  terminator: .branch(.equal, .constant(2), ifTrue: 4, ifFalse: 3)),
            Block(statements: [.loadScratch(0)], terminator: .branch(.equal, .constant(5), ifTrue: 4, ifFalse: 5)),
            Block(terminator: .verdict(1)),
            Block(terminator: .verdict(0)),
        ], entry: 0)
        assertSameVerdicts(program, try Optimizer.optimize(program), packets: packets(seed: 9, count: 200) + [[5, 5, 5, 5]])
    }

    /// Malformed graphs come back unchanged instead of crashing.
    func testMalformedProgramIsLeftAlone() throws {
        let program = FilterProgram(blocks: [Block(terminator: .jump(7))], entry: 0)
        XCTAssertEqual(try Optimizer.optimize(program), program)
        let badSlot = FilterProgram(blocks: [Block(statements: [.storeA(99)], terminator: .verdict(1))], entry: 0)
        XCTAssertEqual(try Optimizer.optimize(badSlot), badSlot)
    }

    /// A program with a loop (as `protochain` builds) is left as it is, as libpcap leaves it.
    func testLoopIsKept() throws {
        // X walks 0, 2, 4, ... until packet[X] == 0; accept when it stops before offset 10.
        let program = FilterProgram(blocks: [
            Block(statements: [.loadXConstant(0)], terminator: .jump(1)),
            Block(statements: [.loadPacketIndexed(.byte, offset: 0)], terminator: .branch(.equal, .constant(0), ifTrue: 3, ifFalse: 2)),
            Block(statements: [.moveXToA, .arithmetic(.add, .constant(2)), .moveAToX()], terminator: .jump(1)),
            Block(statements: [.moveXToA], terminator: .branch(.greater, .constant(10), ifTrue: 4, ifFalse: 5)),
            Block(terminator: .verdict(0)),
            Block(terminator: .verdict(65535)),
        ], entry: 0)
        XCTAssertEqual(try Optimizer.optimize(program), program)
    }

    /// Random acyclic programs: the optimized program gives the same verdict on every packet
    /// the original runs to the end on, and never stops early where the original did not.
    func testRandomProgramsKeepTheirVerdicts() {
        var random = SplitMix(seed: Self.seed(0x5eed))
        let samples = packets(seed: 5, count: 120)
        var shrunk = 0, decidedBothWays = 0
        for _ in 0..<1500 {
            let program = randomProgram(&random)
            // A constant division by zero or long shift: libpcap's optimizer refuses those too.
            guard let optimized = try? Optimizer.optimize(program) else { continue }
            if statementCount(optimized) + optimized.blocks.count < statementCount(program) + program.blocks.count { shrunk += 1 }
            var tally = VerdictTally()
            if !compareVerdicts(program, optimized, packets: samples, tally: &tally) { return }
            if tally.sawBoth { decidedBothWays += 1 }
        }
        XCTAssertGreaterThan(shrunk, 100, "the optimizer should shrink most random programs")
        XCTAssertGreaterThan(decidedBothWays, 100, "the samples should both accept and reject on many programs")
    }

    /// Chains of alternatives and conjuncts over a few fields, with stores and index loads
    /// in between that later blocks read: the shapes the chain reordering and the threading
    /// work on.
    func testRandomChainsKeepTheirVerdicts() {
        var random = SplitMix(seed: Self.seed(0xc4a1))
        let samples = packets(seed: 8, count: 150)
        var shrunk = 0, decidedBothWays = 0
        for _ in 0..<1500 {
            let program = randomChain(&random)
            guard let optimized = try? Optimizer.optimize(program) else { continue }
            if statementCount(optimized) < statementCount(program) { shrunk += 1 }
            var tally = VerdictTally()
            if !compareVerdicts(program, optimized, packets: samples, tally: &tally) { return }
            if tally.sawBoth { decidedBothWays += 1 }
        }
        XCTAssertGreaterThan(shrunk, 300)
        XCTAssertGreaterThan(decidedBothWays, 300, "the samples should both accept and reject on many chains")
    }

    func randomChain(_ random: inout SplitMix) -> FilterProgram {
        let count = 2 + Int(random.next() % 8)
        // Blocks 0..<count are tests; then a reader of M[0]/X, then accept and reject.
        let reader = count, accept = count + 1, reject = count + 2
        let fields: [Statement] = [.loadPacket(.byte, offset: 0), .loadPacket(.byte, offset: 1), .loadPacket(.half, offset: 2)]
        let extras: [Statement] = [.storeA(0), .storeA(0), .loadXConstant(1), .moveAToX(), .loadPacket(.byte, offset: 30), .loadConstant(1)]
        var blocks: [Block] = []
        let shared = random.next() % 2 == 0 ? accept : reject
        for id in 0..<count {
            var statements: [Statement] = []
            if random.next() % 4 == 0 { statements.append(extras[Int(random.next() % UInt64(extras.count))]) }
            if random.next() % 4 != 0 { statements.append(fields[Int(random.next() % 3)]) }
            if random.next() % 3 == 0 { statements.append(extras[Int(random.next() % UInt64(extras.count))]) }
            let next = id + 1 == count ? (random.next() % 3 == 0 ? reader : (shared == accept ? reject : accept)) : id + 1
            let other = random.next() % 8 == 0 ? (shared == accept ? reject : accept) : shared
            let condition: Condition = random.next() % 4 == 0 ? .greater : .equal
            let k = UInt32(random.next() % 3)
            // Alternatives go on along the false arm, conjuncts along the true arm.
            let terminator: Terminator = shared == accept
                ? .branch(condition, .constant(k), ifTrue: other, ifFalse: next)
                : .branch(condition, .constant(k), ifTrue: next, ifFalse: other)
            blocks.append(Block(statements: statements, terminator: terminator))
        }
        let read: [Statement] = random.next() % 2 == 0 ? [.loadScratch(0)] : [.moveXToA]
        blocks.append(Block(statements: read, terminator: .branch(.equal, .constant(1), ifTrue: accept, ifFalse: reject)))
        blocks.append(Block(terminator: .verdict(262144)))
        blocks.append(Block(terminator: .verdict(0)))
        return FilterProgram(blocks: blocks, entry: 0)
    }

    /// Graphs the code generator never makes — branches back to earlier blocks, self loops,
    /// unreachable blocks — still settle within the work bound and mean the same.
    func testRandomCyclicGraphsKeepTheirVerdicts() {
        var random = SplitMix(seed: Self.seed(0xc1c1e))
        let samples = packets(seed: 7, count: 60)
        var decidedBothWays = 0
        var mostWork = 0
        defer { print("random cyclic graphs: at most \(mostWork) block visits per block") }
        for _ in 0..<600 {
            var program = randomProgram(&random)
            for id in program.blocks.indices where random.next() % 4 == 0 {
                guard case let .branch(condition, operand, ifTrue, _) = program.blocks[id].terminator else { continue }
                let back = Int(random.next() % UInt64(program.blocks.count))
                program.blocks[id].terminator = .branch(condition, operand, ifTrue: ifTrue, ifFalse: back)
            }
            program.entry = Int(random.next() % UInt64(program.blocks.count))
            var work = OptimizerWork()
            guard let optimized = try? Optimizer.optimize(program, work: &work) else { continue }
            mostWork = max(mostWork, work.blockVisits / program.blocks.count)
            XCTAssertFalse(work.reachedRoundLimit, "the optimizer did not settle")
            XCTAssertLessThanOrEqual(work.blockVisits, OptimizerLibpcapTests.workPerBlock * program.blocks.count)
            var tally = VerdictTally()
            if !compareVerdicts(program, optimized, packets: samples, stepLimit: 200, tally: &tally) { return }
            if tally.sawBoth { decidedBothWays += 1 }
        }
        XCTAssertGreaterThan(decidedBothWays, 15, "the samples should both accept and reject on many graphs")
    }

    // MARK: - Support

    /// The fixed seed, or OPTIMIZER_SEED mixed in to explore further.
    static func seed(_ fixed: UInt64) -> UInt64 {
        fixed ^ (ProcessInfo.processInfo.environment["OPTIMIZER_SEED"].flatMap { UInt64($0) } ?? 0)
    }

    func statementCount(_ program: FilterProgram) -> Int { program.blocks.reduce(0) { $0 + $1.statements.count } }

    /// How many runs ended in an accept and how many in a reject.
    struct VerdictTally {
        var accepted = 0
        var rejected = 0
        var sawBoth: Bool { accepted > 0 && rejected > 0 }
    }

    /// Same verdicts on `packets` and on packets built from the program's own comparisons.
    /// With `expectsBoth` (programs that can accept), some run must accept and some reject:
    /// a sample set every run rejects proves nothing.
    @discardableResult
    func assertSameVerdicts(_ original: FilterProgram, _ optimized: FilterProgram, packets: [[UInt8]], stepLimit: Int = 1000,
                            expectsBoth: Bool = true, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        var tally = VerdictTally()
        guard compareVerdicts(original, optimized, packets: packets, stepLimit: stepLimit, tally: &tally, file: file, line: line) else {
            return false
        }
        if expectsBoth {
            XCTAssertTrue(tally.sawBoth, "samples accepted \(tally.accepted) and rejected \(tally.rejected) runs: \(original)", file: file, line: line)
        }
        return true
    }

    /// Compares the two programs' verdicts and counts the verdicts the original reached.
    func compareVerdicts(_ original: FilterProgram, _ optimized: FilterProgram, packets: [[UInt8]], stepLimit: Int = 1000,
                         tally: inout VerdictTally, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        for packet in packets + matchingPackets(original) {
            for wire in [UInt32(packet.count), UInt32(packet.count + 100)] {
                let machine = OptimizerMachine(packet: packet, wireLength: wire, metadata: [.vlanTag: 5, .packetType: 4])
                let before = machine.run(original, stepLimit: stepLimit)
                let after = machine.run(optimized, stepLimit: stepLimit)
                if before.stoppedEarly { continue }
                if before.verdict == 0 { tally.rejected += 1 } else { tally.accepted += 1 }
                if before != after {
                    XCTFail("verdict \(after) instead of \(before) on \(packet)\noriginal: \(original)\noptimized: \(optimized)", file: file, line: line)
                    return false
                }
            }
        }
        return true
    }

    /// Packets that make the program's absolute-load comparisons hold: one per comparison and
    /// one with all of them at once, so that tests like `ldh [12]; jeq #0x800` are reached
    /// true, which random bytes seldom do.
    func matchingPackets(_ program: FilterProgram, length: Int = 64) -> [[UInt8]] {
        var all = [UInt8](repeating: 0, count: length)
        var packets: [[UInt8]] = []
        for block in program.blocks {
            guard case let .branch(condition, .constant(k), _, _) = block.terminator,
                  case let .loadPacket(width, offset)? = block.statements.last else { continue }
            let size = Int(width.rawValue)
            guard Int(offset) + size <= length else { continue }
            let value = condition == .greater ? k &+ 1 : k
            var one = [UInt8](repeating: 0, count: length)
            for index in 0..<size {
                let byte = UInt8(truncatingIfNeeded: value >> (8 * (size - 1 - index)))
                one[Int(offset) + index] = byte
                all[Int(offset) + index] = byte
            }
            packets.append(one)
        }
        return packets + [all]
    }

    /// Packets of every length up to 48 bytes, their bytes drawn mostly from a few small numbers
    /// so that the random tests' comparisons come out both ways.
    func packets(seed: UInt64, count: Int) -> [[UInt8]] {
        var random = SplitMix(seed: seed)
        let common: [UInt8] = [0, 1, 2, 6, 8, 0x45, 0xff]
        return (0..<count).map { index in
            let length = index < 49 ? index : Int(random.next() % 49)
            return (0..<length).map { _ in
                random.next() % 4 == 0 ? UInt8(truncatingIfNeeded: random.next()) : common[Int(random.next() % UInt64(common.count))]
            }
        }
    }

    func randomProgram(_ random: inout SplitMix) -> FilterProgram {
        let count = 2 + Int(random.next() % 12)
        var blocks: [Block] = []
        for id in 0..<count {
            let remaining = count - id - 1
            if remaining == 0 || (remaining < 3 && random.next() % 2 == 0) {
                blocks.append(Block(terminator: .verdict(random.next() % 2 == 0 ? 0 : 262144)))
                continue
            }
            var statements = (0..<Int(random.next() % 6)).map { _ in randomStatement(&random) }
            // Often test one of a few fields, so that later tests repeat earlier ones.
            let fields: [Statement] = [.loadPacket(.byte, offset: 0), .loadPacket(.byte, offset: 1), .loadPacket(.half, offset: 12), .loadScratch(0)]
            if random.next() % 3 != 0 { statements.append(fields[Int(random.next() % 4)]) }
            let ifTrue = id + 1 + Int(random.next() % UInt64(remaining))
            let ifFalse = id + 1 + Int(random.next() % UInt64(remaining))
            let conditions = Condition.allCases
            let condition = conditions[Int(random.next() % UInt64(conditions.count))]
            let operand: Operand = random.next() % 5 == 0 ? .x : .constant(UInt32(random.next() % 4))
            blocks.append(Block(statements: statements, terminator: .branch(condition, operand, ifTrue: ifTrue, ifFalse: ifFalse)))
        }
        return FilterProgram(blocks: blocks, entry: 0)
    }

    func randomStatement(_ random: inout SplitMix) -> Statement {
        let widths = LoadWidth.allCases
        let width = widths[Int(random.next() % 3)]
        let small = UInt32(random.next() % 9)
        let slot = Int(random.next() % 4)
        let operators: [ArithmeticOperator] = [.add, .subtract, .multiply, .divide, .modulo, .and, .or, .xor, .shiftLeft, .shiftRight]
        let op = operators[Int(random.next() % UInt64(operators.count))]
        switch random.next() % 18 {
        case 0, 1: return .loadPacket(width, offset: UInt32(random.next() % 40))
        case 2: return .loadPacket(.half, offset: 12)
        case 3: return .loadPacketIndexed(width, offset: UInt32(random.next() % 20))
        case 4: return .loadConstant(small)
        case 5: return .loadLength
        case 6, 7: return .loadScratch(slot)
        case 8: return .loadXConstant(small)
        case 9: return .loadXScratch(slot)
        case 10: return .loadXHeaderLength(offset: UInt32(random.next() % 20))
        case 11, 12: return .storeA(slot)
        case 13: return .storeX(slot)
        case 14: return .arithmetic(op, .constant(op == .divide || op == .modulo ? small + 1 : small))
        case 15: return .arithmetic(op, .x)
        case 16: return random.next() % 2 == 0 ? .moveAToX() : .moveXToA
        default: return random.next() % 2 == 0 ? .negate : .loadAncillary(.vlanTag)
        }
    }
}

/// A small deterministic random number generator, so a failure can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
