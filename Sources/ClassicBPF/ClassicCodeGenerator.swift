import FilterCompiler

/// Lays the blocks of a `FilterProgram` out as classic BPF, in the order libpcap uses, so that a
/// block graph shaped like libpcap's prints exactly as `tcpdump -d` prints it.
///
/// Placement: the entry block first, then everything reachable through its true edge, then
/// through its false edge, each block once; a block reachable from several places lands at its
/// later position. That is the reverse of a post-order walk that visits the false successor
/// before the true one.
///
/// Conditional jumps hold 8-bit forward offsets. When a branch target is 256 or more
/// instructions away, a `ja` right after the branch carries it (first the true edge's, then the
/// false edge's), and the branch jumps to that `ja`. Extra `ja`s push later code further away, so
/// the set of long edges grows until no edge is too long: the smallest such set.
///
/// A `.jump` terminator becomes `ja` (backward jumps wrap to a 32-bit two's complement offset),
/// or nothing when its target is placed right after it (a fall-through).
public enum ClassicCodeGenerator {
    public static func generate(_ program: FilterProgram) -> [ClassicInstruction] {
        let order = placementOrder(program)
        var layout = Layout(program: program, order: order)
        while layout.markLongEdges() {}
        return layout.emit()
    }

    /// The blocks reachable from the entry in the order they are placed.
    static func placementOrder(_ program: FilterProgram) -> [BlockID] {
        let count = program.blocks.count
        guard program.entry >= 0, program.entry < count else { return [] }
        var visited = [Bool](repeating: false, count: count)
        var postOrder: [BlockID] = []
        postOrder.reserveCapacity(count)
        // Each frame: a block and its successors still to visit (at most two), the next one last.
        var stack: [(block: BlockID, pending: PendingSuccessors)] = []

        func push(_ block: BlockID) {
            visited[block] = true
            // Visit the false successor first, then the true one: pop order is from the end.
            var pending = PendingSuccessors()
            switch program.blocks[block].terminator {
            case let .branch(_, _, ifTrue, ifFalse):
                pending.push(ifTrue, below: count)
                pending.push(ifFalse, below: count)
            case let .jump(target):
                pending.push(target, below: count)
            case .verdict:
                break
            }
            stack.append((block, pending))
        }
        push(program.entry)
        while !stack.isEmpty {
            if let next = stack[stack.count - 1].pending.pop() {
                if !visited[next] { push(next) }
            } else {
                postOrder.append(stack.removeLast().block)
            }
        }
        postOrder.reverse()
        return postOrder
    }
}

/// Up to two successors waiting to be visited, without an array per block.
struct PendingSuccessors {
    private var first: BlockID = -1
    private var second: BlockID = -1

    /// Adds a successor unless it is outside the program (a malformed graph).
    mutating func push(_ block: BlockID, below count: Int) {
        guard block >= 0, block < count else { return }
        if first < 0 { first = block } else { second = block }
    }

    mutating func pop() -> BlockID? {
        if second >= 0 { defer { second = -1 }; return second }
        if first >= 0 { defer { first = -1 }; return first }
        return nil
    }
}

/// Positions of the placed blocks and which of their branch edges need an extra `ja`.
struct Layout {
    let program: FilterProgram
    let order: [BlockID]
    /// Index in `order` of each block; -1 for blocks not placed.
    var slotOf: [Int]
    var longTrue: [Bool]
    var longFalse: [Bool]
    /// First instruction of each placed block, by slot; one extra entry for the end.
    var start: [Int] = []

    init(program: FilterProgram, order: [BlockID]) {
        self.program = program
        self.order = order
        slotOf = Array(repeating: -1, count: program.blocks.count)
        for (index, block) in order.enumerated() { slotOf[block] = index }
        longTrue = Array(repeating: false, count: order.count)
        longFalse = Array(repeating: false, count: order.count)
        computeStarts()
    }

    /// Index in `order` of a placed block; nil for one not placed or outside the program.
    func slot(_ block: BlockID) -> Int? {
        guard block >= 0, block < slotOf.count, slotOf[block] >= 0 else { return nil }
        return slotOf[block]
    }

    /// Instructions the terminator of the block at `index` takes, extra `ja`s included.
    func terminatorLength(_ index: Int) -> Int {
        switch program.blocks[order[index]].terminator {
        case .verdict: return 1
        case .branch: return 1 + (longTrue[index] ? 1 : 0) + (longFalse[index] ? 1 : 0)
        case let .jump(target): return slot(target) == index + 1 ? 0 : 1
        }
    }

    mutating func computeStarts() {
        start = [0]
        start.reserveCapacity(order.count + 1)
        for index in order.indices {
            start.append(start[index] + program.blocks[order[index]].statements.count + terminatorLength(index))
        }
    }

    /// Position of the terminator's first instruction.
    func terminatorPosition(_ index: Int) -> Int {
        start[index] + program.blocks[order[index]].statements.count
    }

    /// Distance a conditional jump at `index`'s terminator needs to reach `target`.
    func offset(from index: Int, to target: BlockID) -> Int {
        startOf(target) - terminatorPosition(index) - 1
    }

    /// Where a block starts; a target outside the program (a malformed graph) is the end.
    func startOf(_ block: BlockID) -> Int {
        slot(block).map { start[$0] } ?? start[start.count - 1]
    }

    /// Marks every branch edge that is too long for 8 bits; true if any was newly marked.
    mutating func markLongEdges() -> Bool {
        var changed = false
        for index in order.indices {
            guard case let .branch(_, _, ifTrue, ifFalse) = program.blocks[order[index]].terminator else { continue }
            if !longTrue[index], offset(from: index, to: ifTrue) > Int(UInt8.max) {
                longTrue[index] = true
                changed = true
            }
            if !longFalse[index], offset(from: index, to: ifFalse) > Int(UInt8.max) {
                longFalse[index] = true
                changed = true
            }
        }
        if changed { computeStarts() }
        return changed
    }

    func emit() -> [ClassicInstruction] {
        var code: [ClassicInstruction] = []
        code.reserveCapacity(start.last ?? 0)
        for index in order.indices {
            let block = program.blocks[order[index]]
            for statement in block.statements { code.append(ClassicInstruction(statement)) }
            let here = code.count
            switch block.terminator {
            case let .verdict(k):
                code.append(ClassicInstruction(code: ClassicOpcode.ret | ClassicOpcode.k, k: k))
            case let .jump(target):
                if terminatorLength(index) == 1 {
                    code.append(jumpAlways(by: startOf(target) - here - 1))
                }
            case let .branch(condition, operand, ifTrue, ifFalse):
                var branch = ClassicInstruction(code: ClassicOpcode.jmp | condition.classicCondition)
                switch operand {
                case let .constant(k): branch.k = k
                case .x: branch.code |= ClassicOpcode.x
                }
                var extra: [ClassicInstruction] = []
                let trueOffset = offset(from: index, to: ifTrue)
                if longTrue[index] {
                    branch.jt = UInt8(extra.count)
                    extra.append(jumpAlways(by: trueOffset - extra.count - 1))
                } else {
                    branch.jt = Self.clamp(trueOffset)
                }
                let falseOffset = offset(from: index, to: ifFalse)
                if longFalse[index] {
                    branch.jf = UInt8(extra.count)
                    extra.append(jumpAlways(by: falseOffset - extra.count - 1))
                } else {
                    branch.jf = Self.clamp(falseOffset)
                }
                code.append(branch)
                code.append(contentsOf: extra)
            }
        }
        return code
    }

    /// A branch edge that goes backward cannot be encoded; it only arises from a malformed
    /// graph (cycles go through `.jump`), and then jumps to the next instruction.
    static func clamp(_ offset: Int) -> UInt8 {
        UInt8(clamping: max(0, offset))
    }

    func jumpAlways(by offset: Int) -> ClassicInstruction {
        ClassicInstruction(code: ClassicOpcode.jmp | ClassicOpcode.ja, k: UInt32(truncatingIfNeeded: offset))
    }
}

extension ClassicInstruction {
    /// The instruction for one straight-line statement of the IR.
    public init(_ statement: Statement) {
        typealias Op = ClassicOpcode
        switch statement {
        case let .loadPacket(width, offset):
            self.init(code: Op.ld | width.classicSize | Op.abs, k: offset)
        case let .loadPacketIndexed(width, offset):
            self.init(code: Op.ld | width.classicSize | Op.ind, k: offset)
        case let .loadConstant(k):
            self.init(code: Op.ld | Op.imm, k: k)
        case .loadLength:
            self.init(code: Op.ld | Op.word | Op.len)
        case let .loadScratch(slot):
            self.init(code: Op.ld | Op.mem, k: UInt32(truncatingIfNeeded: slot))
        case let .loadXConstant(k):
            self.init(code: Op.ldx | Op.imm, k: k)
        case .loadXLength:
            self.init(code: Op.ldx | Op.word | Op.len)
        case let .loadXScratch(slot):
            self.init(code: Op.ldx | Op.mem, k: UInt32(truncatingIfNeeded: slot))
        case let .loadXHeaderLength(offset):
            self.init(code: Op.ldx | Op.byte | Op.msh, k: offset)
        case let .storeA(slot):
            self.init(code: Op.st, k: UInt32(truncatingIfNeeded: slot))
        case let .storeX(slot):
            self.init(code: Op.stx, k: UInt32(truncatingIfNeeded: slot))
        case let .arithmetic(operation, .constant(k)):
            self.init(code: Op.alu | operation.classicOperation | Op.k, k: k)
        case let .arithmetic(operation, .x):
            self.init(code: Op.alu | operation.classicOperation | Op.x)
        case .negate:
            self.init(code: Op.alu | Op.neg)
        case let .moveAToX(leftover):
            self.init(code: Op.misc | Op.tax, k: leftover)
        case .moveXToA:
            self.init(code: Op.misc | Op.txa)
        case let .loadAncillary(field):
            self.init(code: Op.ld | field.loadWidth.classicSize | Op.abs, k: Op.ancillaryBase &+ field.rawValue)
        }
    }
}
