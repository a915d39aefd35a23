import ClassicBPF
import FilterCompiler

/// Turns a classic BPF program (libpcap's output) back into the IR's block graph, so tests can
/// feed libpcap's own programs to our back ends: the layout of `ClassicCodeGenerator`, the eBPF
/// code generator. The `ja`s libpcap adds after a branch for targets beyond 255 instructions
/// are folded back into the branch; every other `ja` becomes a `.jump`, and code that runs
/// into a jump target ends in a `.jump` to it (a fall-through).
public enum ClassicLifter {
    public static func lift(_ program: [ClassicInstruction]) -> FilterProgram? {
        guard !program.isEmpty else { return nil }
        let count = program.count
        func isJumpAlways(_ index: Int) -> Bool { index < count && program[index].code == ClassicOpcode.jmp | ClassicOpcode.ja }
        func jumpAlwaysTarget(_ index: Int) -> Int { index + 1 + Int(Int32(bitPattern: program[index].k)) }

        // The `ja`s that only carry a long branch: right after a branch, reached by its jt = 0
        // or by its jf = 0 or 1.
        var carriers = Set<Int>()
        for (index, instruction) in program.enumerated() where Condition(jumpOpcode: instruction.code) != nil {
            if instruction.jt == 0, isJumpAlways(index + 1) { carriers.insert(index + 1) }
            let falseTarget = index + 1 + Int(instruction.jf)
            if instruction.jf <= 1, isJumpAlways(falseTarget), instruction.jf == 0 || carriers.contains(index + 1) {
                carriers.insert(falseTarget)
            }
        }
        func resolved(_ target: Int) -> Int { carriers.contains(target) ? jumpAlwaysTarget(target) : target }

        // Block leaders: the start, every target, and whatever follows a jump or return.
        var leaders: Set<Int> = [0]
        for (index, instruction) in program.enumerated() where !carriers.contains(index) {
            if let _ = Condition(jumpOpcode: instruction.code) {
                leaders.insert(resolved(index + 1 + Int(instruction.jt)))
                leaders.insert(resolved(index + 1 + Int(instruction.jf)))
                leaders.insert(index + 1)
            } else if isJumpAlways(index) {
                leaders.insert(jumpAlwaysTarget(index))
                leaders.insert(index + 1)
            } else if instruction.code & 0x07 == ClassicOpcode.ret {
                leaders.insert(index + 1)
            }
        }
        leaders = leaders.filter { $0 < count && !carriers.contains($0) }
        guard leaders.allSatisfy({ $0 >= 0 }) else { return nil }
        let starts = leaders.sorted()
        var blockAt: [Int: BlockID] = [:]
        for (id, start) in starts.enumerated() { blockAt[start] = id }

        var blocks: [Block] = []
        for start in starts {
            var statements: [Statement] = []
            var index = start
            var terminator: Terminator?
            while terminator == nil {
                guard index < count else { return nil }
                if index != start, let next = blockAt[index] {
                    terminator = .jump(next)
                    break
                }
                let instruction = program[index]
                if let condition = Condition(jumpOpcode: instruction.code) {
                    guard let ifTrue = blockAt[resolved(index + 1 + Int(instruction.jt))],
                          let ifFalse = blockAt[resolved(index + 1 + Int(instruction.jf))] else { return nil }
                    let operand: Operand = instruction.code & ClassicOpcode.sourceMask == ClassicOpcode.x ? .x : .constant(instruction.k)
                    terminator = .branch(condition, operand, ifTrue: ifTrue, ifFalse: ifFalse)
                } else if isJumpAlways(index) {
                    guard let target = blockAt[jumpAlwaysTarget(index)] else { return nil }
                    terminator = .jump(target)
                } else if instruction.code == ClassicOpcode.ret | ClassicOpcode.k {
                    terminator = .verdict(instruction.k)
                } else if let statement = Statement(instruction) {
                    statements.append(statement)
                } else {
                    return nil
                }
                index += 1
            }
            blocks.append(Block(statements: statements, terminator: terminator!))
        }
        return FilterProgram(blocks: blocks, entry: 0)
    }
}

extension FilterProgram {
    /// True when the program reads Linux metadata (ancillary loads), which libpcap's `bpf_filter`
    /// cannot answer: such programs are left out of comparisons with it.
    public var usesAncillaryData: Bool {
        blocks.contains { block in
            block.statements.contains { if case .loadAncillary = $0 { true } else { false } }
        }
    }
}
