import FilterCompiler
import PacketFormats

/// Emits the eBPF code of one filter (the IR of one pcap-filter expression) into an
/// assembler: it runs the classic filter machine on the hook's packet and continues at
/// `matchLabel` when classic BPF would accept, at `noMatchLabel` otherwise. A load past the
/// end of the packet, a division by zero, or a loop that runs too long means "no match".
struct FilterEmitter {
    let program: FilterProgram
    let hook: any HookContext
    /// What the filter's labels are called in messages (`rule3`).
    let name: String
    let matchLabel: Label
    let noMatchLabel: Label

    private let order: [BlockID]
    /// How far the filter reads: within the bytes a multi-buffer frame keeps linear, every load
    /// reads the packet directly.
    private let reach: PacketReach
    private let position: [BlockID: Int]
    /// The label of each block (by `BlockID`), made when the filter is emitted.
    private var blockLabels: [Label] = []
    /// Whether the first way out to no match is emitted yet (see `jump(if:)`).
    private var firstExitLaidOut = false
    /// Loads that copy their bytes from a multi-buffer frame's fragments, emitted after the blocks.
    private var fragmentLoads: [FragmentLoad] = []

    private typealias Layout = MachineLayout
    private let a = MachineLayout.accumulator
    private let x = MachineLayout.index

    init(program: FilterProgram, hook: any HookContext, name: String, matchLabel: Label, noMatchLabel: Label) {
        self.program = program
        self.hook = hook
        self.name = name
        self.matchLabel = matchLabel
        self.noMatchLabel = noMatchLabel
        order = FilterEmitter.reversePostorder(program)
        reach = PacketReach(filter: program)
        position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
    }

    mutating func emit(into asm: inout Assembler) {
        // Fresh packet pointers: a filter starts from the same verifier state whatever the
        // filters before it checked, so the verifier walks each filter of a ruleset once
        // instead of once per way out of the one before.
        asm.load(.word, Layout.data, from: Layout.context, offset: hook.dataOffset)
        asm.load(.word, Layout.dataEnd, from: Layout.context, offset: hook.dataEndOffset)
        // Classic BPF starts with A = X = 0 and the scratch memory zeroed (where that can matter).
        if !entryOverwritesA { asm.move(a, 0, width: .bits32) }
        if readsX { asm.move(x, 0, width: .bits32) }
        for slot in usedScratchSlots { asm.store(.double, to: .r10, offset: Layout.scratchSlot(slot), immediate: 0) }
        if hasBackwardEdge { asm.store(.double, to: .r10, offset: Layout.loopCounterWord, immediate: 0) }
        guard !order.isEmpty else { asm.jump(to: noMatchLabel); return }
        blockLabels = program.blocks.indices.map { asm.newLabel("\(name).block\($0)") }
        asm.jump(to: label(of: program.entry))
        for (index, block) in order.enumerated() {
            asm.label(label(of: block))
            emit(block: block, next: index + 1 < order.count ? order[index + 1] : nil, into: &asm)
        }
        for load in fragmentLoads { load.emit(into: &asm) }
    }

    // MARK: Blocks

    private func label(of block: BlockID) -> Label { blockLabels[block] }

    private mutating func emit(block id: BlockID, next: BlockID?, into asm: inout Assembler) {
        let block = program.blocks[id]
        if case .verdict(0) = block.terminator { asm.jump(to: noMatchLabel); return }
        for statement in block.statements { emit(statement, into: &asm) }
        var loopStubs: [(label: Label, target: BlockID)] = []
        func edge(to target: BlockID) -> Label {
            if let direct = verdictLabel(of: target) { return direct }
            guard let from = position[id], let to = position[target], to <= from else { return label(of: target) }
            if let stub = loopStubs.first(where: { $0.target == target }) { return stub.label }
            let stub = asm.newLabel("\(name).loop\(id)to\(target)")
            loopStubs.append((stub, target))
            return stub
        }
        switch block.terminator {
        case let .verdict(value):
            asm.jump(to: value == 0 ? noMatchLabel : matchLabel)
        case let .jump(target):
            let destination = edge(to: target)
            asm.jump(to: destination)
        case let .branch(condition, operand, ifTrue, ifFalse):
            let trueLabel = edge(to: ifTrue), falseLabel = edge(to: ifFalse)
            let jumpCondition = FilterEmitter.jumpCondition(condition)
            if falseLabel == noMatchLabel, trueLabel != noMatchLabel, let negated = jumpCondition.negated {
                branch(negated, operand, to: noMatchLabel, into: &asm)
                asm.jump(to: trueLabel)
            } else if trueLabel == noMatchLabel, falseLabel != noMatchLabel {
                branch(jumpCondition, operand, to: noMatchLabel, into: &asm)
                asm.jump(to: falseLabel)
            } else if ifTrue == next, let negated = jumpCondition.negated {
                branch(negated, operand, to: falseLabel, into: &asm)
                asm.jump(to: trueLabel)
            } else {
                branch(jumpCondition, operand, to: trueLabel, into: &asm)
                asm.jump(to: falseLabel)
            }
        }
        for stub in loopStubs {
            // A bounded loop the verifier can prove finite without walking every iteration:
            // X (protochain's header offset) is cut to the range the verifier tracks for
            // packet offsets, the iteration count lives where the verifier does not track its
            // value, and `may_goto` lets it accept the loop once an iteration's state repeats.
            asm.label(stub.label)
            asm.jump(if: .greater, x, Int32(Layout.maximumPacketOffset), to: noMatchLabel)
            asm.alu(.and, x, Int32(Layout.maximumPacketOffset), width: .bits32)
            asm.load(.half, Layout.address, from: .r10, offset: Layout.loopCounterSlot)
            asm.add(Layout.address, 1)
            asm.jump(if: .greater, Layout.address, Layout.loopIterationLimit, to: noMatchLabel)
            asm.store(.half, to: .r10, offset: Layout.loopCounterSlot, from: Layout.address)
            asm.mayGoto(noMatchLabel)
            asm.jump(to: label(of: stub.target))
        }
    }

    /// The match/no-match label for a block that only returns, so edges go there directly.
    private func verdictLabel(of block: BlockID) -> Label? {
        guard program.blocks.indices.contains(block) else { return noMatchLabel }
        let target = program.blocks[block]
        guard case let .verdict(value) = target.terminator else { return nil }
        if value == 0 { return noMatchLabel }
        return target.statements.isEmpty ? matchLabel : nil
    }

    private mutating func branch(_ condition: JumpCondition, _ operand: Operand, to target: Label, into asm: inout Assembler) {
        switch operand {
        case let .constant(k): jump(if: condition, a, .immediate(Int32(bitPattern: k)), to: target, width: .bits32, asm: &asm)
        case .x: jump(if: condition, a, .register(x), to: target, width: .bits32, asm: &asm)
        }
    }

    /// A conditional jump. The filter's first jump to no match is laid out so that the verifier
    /// follows it first (`Assembler.jumpFollowedFirst`): walking a ruleset, the verifier then
    /// goes on to the next rule at the first test a rule makes, with one branch of the rule
    /// pending rather than one per test it passes (the pending branches are what limits how
    /// many rules one program holds). Only the first: each costs a taken jump per packet.
    private mutating func jump(if condition: JumpCondition, _ dst: Register, _ operand: JumpOperand, to target: Label,
                               width: ALUWidth = .bits64, asm: inout Assembler) {
        if target == noMatchLabel && !firstExitLaidOut {
            firstExitLaidOut = true
            asm.jumpFollowedFirst(if: condition, dst, operand, to: target, width: width)
        } else {
            asm.jump(if: condition, dst, operand, to: target, width: width)
        }
    }

    private static func jumpCondition(_ condition: Condition) -> JumpCondition {
        switch condition {
        case .equal: .equal
        case .greater: .greater
        case .greaterOrEqual: .greaterOrEqual
        case .bitsSet: .bitsSet
        }
    }

    // MARK: Statements

    private mutating func emit(_ statement: Statement, into asm: inout Assembler) {
        switch statement {
        case let .loadPacket(width, offset):
            emitPacketLoad(FilterEmitter.size(width), offset: offset, indexed: false, into: a, onFailure: noMatchLabel, asm: &asm)
        case let .loadPacketIndexed(width, offset):
            emitPacketLoad(FilterEmitter.size(width), offset: offset, indexed: true, into: a, onFailure: noMatchLabel, asm: &asm)
        case let .loadConstant(k): asm.move(a, Int32(bitPattern: k), width: .bits32)
        case .loadLength: asm.load(.word, a, from: .r10, offset: Layout.lengthSlot)
        case let .loadScratch(slot): asm.load(.double, a, from: .r10, offset: Layout.scratchSlot(slot))
        case let .loadXConstant(k): asm.move(x, Int32(bitPattern: k), width: .bits32)
        case .loadXLength: asm.load(.word, x, from: .r10, offset: Layout.lengthSlot)
        case let .loadXScratch(slot): asm.load(.double, x, from: .r10, offset: Layout.scratchSlot(slot))
        case let .loadXHeaderLength(offset):
            emitPacketLoad(.byte, offset: offset, indexed: false, into: x, onFailure: noMatchLabel, asm: &asm)
            asm.alu(.and, x, 0x0f, width: .bits32)
            asm.alu(.shiftLeft, x, 2, width: .bits32)
        case let .storeA(slot): asm.store(.double, to: .r10, offset: Layout.scratchSlot(slot), from: a)
        case let .storeX(slot): asm.store(.double, to: .r10, offset: Layout.scratchSlot(slot), from: x)
        case let .arithmetic(operation, operand): emitArithmetic(operation, operand, into: &asm)
        case .negate: asm.negate(a, width: .bits32)
        case .moveAToX: asm.move(x, a, width: .bits32)
        case .moveXToA: asm.move(a, x, width: .bits32)
        case let .loadAncillary(field): emitAncillary(field, into: &asm)
        }
    }

    private mutating func emitArithmetic(_ operation: ArithmeticOperator, _ operand: Operand, into asm: inout Assembler) {
        let op: ALUOperation
        switch operation {
        case .add: op = .add
        case .subtract: op = .subtract
        case .multiply: op = .multiply
        case .divide: op = .divide
        case .modulo: op = .modulo
        case .and: op = .and
        case .or: op = .or
        case .xor: op = .xor
        case .shiftLeft: op = .shiftLeft
        case .shiftRight: op = .shiftRight
        }
        let isShift = op == .shiftLeft || op == .shiftRight
        switch operand {
        case let .constant(k):
            // A + 0, A - 0, A | 0, A ^ 0, A << 0, A >> 0 leave A as it is.
            if k == 0 && [.add, .subtract, .or, .xor, .shiftLeft, .shiftRight].contains(op) { return }
            // Classic BPF returns 0 on division by zero: the rule does not match.
            if (op == .divide || op == .modulo) && k == 0 { asm.jump(to: noMatchLabel); return }
            // libpcap's bpf_filter makes a shift by 32 or more 0; the verifier refuses such shifts.
            if isShift && k >= 32 { asm.move(a, 0, width: .bits32); return }
            asm.alu(op, a, Int32(bitPattern: k), width: .bits32)
        case .x:
            if op == .divide || op == .modulo { jump(if: .equal, x, .immediate(0), to: noMatchLabel, width: .bits32, asm: &asm) }
            if isShift {
                let shift = asm.newLabel("\(name).shift"), done = asm.newLabel("\(name).shifted")
                asm.jump(if: .less, x, 32, to: shift, width: .bits32)
                asm.move(a, 0, width: .bits32)
                asm.jump(to: done)
                asm.label(shift)
                asm.alu(op, a, x, width: .bits32)
                asm.label(done)
            } else {
                asm.alu(op, a, x, width: .bits32)
            }
        }
    }

    private mutating func emitAncillary(_ field: AncillaryField, into asm: inout Assembler) {
        switch hook.ancillary(field) {
        case let .contextField(offset, networkOrder16):
            asm.load(.word, a, from: Layout.context, offset: offset)
            if networkOrder16 { asm.byteSwapFromBigEndian(a, bits: 16) }
        case let .constant(value):
            asm.move(a, Int32(bitPattern: value), width: .bits32)
        case let .metadataVLANOnEntry(tci):
            asm.load(.word, a, from: .r10, offset: tci ? Layout.vlanTCISlot : Layout.vlanPresentSlot)
        case .etherTypeFromFrame:
            let done = asm.newLabel("\(name).ethertype"), llc = asm.newLabel("\(name).llc")
            typealias Ethernet = Protocols.Ethernet
            emitPacketLoad(.half, offset: Ethernet.typeField, indexed: false, into: a, onFailure: noMatchLabel, asm: &asm)
            asm.jump(if: .greaterOrEqual, a, Int32(Ethernet.minimumEtherType), to: done, width: .bits32)
            emitPacketLoad(.half, offset: Ethernet.headerLength, indexed: false, into: Layout.limit, onFailure: llc, asm: &asm)
            asm.jump(if: .notEqual, Layout.limit, Int32(Protocols.LLCSAP.rawIPX), to: llc, width: .bits32)
            asm.move(a, Int32(Ethernet.linuxRaw8023), width: .bits32)
            asm.jump(to: done)
            asm.label(llc)
            asm.move(a, Int32(Ethernet.linuxLLC8022), width: .bits32)
            asm.label(done)
        }
    }

    /// `dst = packet[offset ..< offset+size]` (after X when `indexed`), big-endian, with the
    /// bounds check the verifier wants: the end of the access compared with data_end.
    private mutating func emitPacketLoad(_ size: MemorySize, offset: UInt32, indexed: Bool, into dst: Register,
                                onFailure: Label, asm: inout Assembler) {
        let end = UInt64(offset) + UInt64(size.bytes)
        guard end <= Layout.maximumPacketOffset else { asm.jump(to: onFailure); return }
        let address = Layout.address, limit = Layout.limit
        // Beyond data_end: no match, or, where the frame may go on in fragments past the bytes
        // that are linear for sure, a copy of the bytes from there.
        var beyondLinear = onFailure
        if case let .copiedOnDemand(linearAtLeast) = hook.nonLinearData, reach.bytes.map({ $0 > linearAtLeast }) ?? true,
           indexed || end > UInt64(linearAtLeast) {
            let load = FragmentLoad(label: asm.newLabel("\(name).fragment"), resume: asm.newLabel("\(name).loaded"), offset: offset,
                                    size: size, indexed: indexed, destination: dst, onFailure: onFailure)
            fragmentLoads.append(load)
            beyondLinear = load.label
        }
        asm.move(address, Layout.data)
        if !indexed && end <= UInt64(Int16.max) {
            asm.add(address, Int32(end))
            jump(if: .greater, address, .register(Layout.dataEnd), to: beyondLinear, asm: &asm)
            asm.load(size, dst, from: Layout.data, offset: Int16(offset))
        } else {
            if indexed {
                // Bound X so that data + X + end stays in the range the verifier tracks; a
                // larger X lies beyond any packet anyway.
                jump(if: .greater, x, .immediate(Int32(Layout.maximumPacketOffset - end)), to: onFailure, asm: &asm)
                asm.add(address, x)
            }
            asm.add(address, Int32(offset))
            asm.move(limit, address)
            asm.add(limit, Int32(size.bytes))
            jump(if: .greater, limit, .register(Layout.dataEnd), to: beyondLinear, asm: &asm)
            asm.load(size, dst, from: address, offset: 0)
        }
        if let load = fragmentLoads.last, load.label == beyondLinear { asm.label(load.resume) }
        switch size {
        case .half: asm.byteSwapFromBigEndian(dst, bits: 16)
        case .word: asm.byteSwapFromBigEndian(dst, bits: 32)
        case .byte, .double: break
        }
    }

    private static func size(_ width: LoadWidth) -> MemorySize {
        switch width { case .byte: .byte; case .half: .half; case .word: .word }
    }

    // MARK: Analysis

    private var usedScratchSlots: Set<Int> {
        var slots = Set<Int>()
        for block in order {
            for statement in program.blocks[block].statements {
                switch statement {
                case let .loadScratch(slot), let .loadXScratch(slot), let .storeA(slot), let .storeX(slot):
                    slots.insert(slot)
                default: break
                }
            }
        }
        return slots
    }

    /// Whether the first statement sets A without reading it, so A's start value is never seen.
    private var entryOverwritesA: Bool {
        guard program.blocks.indices.contains(program.entry), let first = program.blocks[program.entry].statements.first else {
            return false
        }
        switch first {
        case .loadPacket, .loadConstant, .loadLength, .loadScratch, .loadAncillary: return true
        default: return false
        }
    }

    /// Whether any statement or branch reads X (else its start value does not matter).
    private var readsX: Bool {
        order.contains { id in
            let block = program.blocks[id]
            if case .branch(_, .x, _, _) = block.terminator { return true }
            return block.statements.contains { statement in
                switch statement {
                case .loadPacketIndexed, .storeX, .moveXToA, .arithmetic(_, .x): true
                default: false
                }
            }
        }
    }

    private var hasBackwardEdge: Bool {
        order.contains { block in
            program.blocks[block].successors.contains { (position[$0] ?? .max) <= (position[block] ?? 0) }
        }
    }

    /// Reachable blocks from the entry, each before the blocks it leads to (except along the
    /// loop's backward edge).
    private static func reversePostorder(_ program: FilterProgram) -> [BlockID] {
        guard program.blocks.indices.contains(program.entry) else { return [] }
        var visited = Set<BlockID>(), postorder: [BlockID] = []
        var stack: [(block: BlockID, nextSuccessor: Int)] = [(program.entry, 0)]
        visited.insert(program.entry)
        while let top = stack.last {
            let successors = program.blocks[top.block].successors.filter { program.blocks.indices.contains($0) }
            if top.nextSuccessor < successors.count {
                stack[stack.count - 1].nextSuccessor += 1
                // Visit the true branch last so it comes right after the block, as in classic BPF.
                let successor = successors[successors.count - 1 - top.nextSuccessor]
                if visited.insert(successor).inserted { stack.append((successor, 0)) }
            } else {
                postorder.append(top.block)
                stack.removeLast()
            }
        }
        return postorder.reversed()
    }
}

/// A packet load whose bytes lie beyond `data_end` in a multi-buffer XDP frame: out of line,
/// it copies them from the fragments with `bpf_xdp_load_bytes` into a stack slot, loads them
/// from there and goes back to the byte swap after the direct load (`resume`). A load past the
/// whole frame (`len`, the buffer length) does not match without calling the helper, so a
/// frame without fragments costs what it did. The helper takes the context (kept in its
/// slot) and leaves A, X and the packet pointers (callee-saved registers) as they were.
private struct FragmentLoad {
    let label: Label
    let resume: Label
    let offset: UInt32
    let size: MemorySize
    let indexed: Bool
    let destination: Register
    let onFailure: Label

    func emit(into asm: inout Assembler) {
        typealias Layout = MachineLayout
        asm.label(label)
        // r2 = the offset of the first byte, r3 = one past the last; beyond `len`: no match.
        if indexed {
            asm.move(.r2, MachineLayout.index)
            asm.add(.r2, Int32(offset))
        } else {
            asm.move(.r2, Int32(offset))
        }
        asm.move(.r3, .r2)
        asm.add(.r3, Int32(size.bytes))
        asm.load(.word, .r4, from: .r10, offset: Layout.lengthSlot)
        asm.jump(if: .greater, .r3, .r4, to: onFailure)
        asm.reloadContext()
        asm.move(.r3, .r10)
        asm.add(.r3, Int32(Layout.fragmentLoadSlot))
        asm.move(.r4, Int32(size.bytes))
        asm.call(.xdpLoadBytes)
        asm.reloadContext()
        asm.jump(if: .notEqual, .r0, 0, to: onFailure)
        asm.load(size, destination, from: .r10, offset: Layout.fragmentLoadSlot)
        asm.jump(to: resume)
    }
}
