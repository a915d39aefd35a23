/// What a conditional jump compares its register with.
public enum JumpOperand: Hashable, Sendable {
    case immediate(Int32)
    case register(Register)
}

/// A place in a program that jumps go to: made by `Assembler.newLabel(_:)`, placed once with
/// `Assembler.label(_:)`. A label is a value, not a name: code that jumps to a place holds the
/// label the code placing it made, so a misspelt label does not compile.
public struct Label: Hashable, Sendable, CustomStringConvertible {
    /// Unique in the assembler that made it.
    let number: Int
    /// What the place is, for messages only (two labels may share it).
    public let name: String

    public var description: String { "\(name)#\(number)" }
}

/// Builds a program from instructions that jump to labels, then resolves the labels to
/// 16-bit slot offsets in one fix-up pass.
///
/// ```swift
/// var asm = Assembler()
/// let ipv4 = asm.newLabel("ipv4")
/// asm.load(.half, .r2, from: .r1, offset: 12)
/// asm.jumpIfEqual(.r2, 0x800, to: ipv4)
/// asm.move(.r0, 2); asm.exit()
/// asm.label(ipv4)
/// asm.move(.r0, 1); asm.exit()
/// let program = try asm.assemble()
/// ```
///
/// `assemble` also drops instructions that no path from the first one reaches (the kernel's
/// verifier refuses unreachable code) and jumps to the very next instruction, so code
/// generators may emit freely and let whole branches fall away.
public struct Assembler: Sendable {
    /// Slots of one instruction (two for ld_imm64), and the label a jump goes to.
    struct Entry: Sendable {
        var slots: [EBPFInstruction]
        var target: Label?
        /// A `goto` that stays where it is, not folded into the conditional jump before it.
        var kept = false
    }

    private var entries: [Entry] = []
    /// Label number → index of the entry it stands before.
    private var labels: [Int: Int] = [:]
    private var duplicateLabels: [Label] = []
    private var madeLabels = 0

    public init() {}

    /// The number of instructions emitted so far (before unreachable code is dropped).
    public var count: Int { entries.count }

    /// The conditional jumps emitted so far: each is a branch the verifier may push to come
    /// back to later (it follows the fall-through first), so they bound its pending states.
    public var conditionalJumpCount: Int {
        entries.reduce(0) { $0 + ($1.target != nil && $1.slots[0].opcode != Opcode.jumpAlways ? 1 : 0) }
    }

    /// The `may_goto` instructions emitted so far: one per bounded loop, which the verifier
    /// walks a few times (some 4,000 instructions for protochain's loop).
    public var loopCount: Int { entries.reduce(0) { $0 + ($1.slots[0].opcode == Opcode.mayGoto ? 1 : 0) } }

    /// The branches the verifier keeps pending on the way it follows first (every conditional
    /// jump's fall-through) from the first instruction until it reaches one of `stops` or the
    /// end; nil when that way exits or loops before. A verifier walking a chain of pieces of code that
    /// each end at the next keeps about this many branches of each piece pending.
    public func branchesPendingOnFirstWay(to stops: Set<Label>) -> Int? {
        var index = 0, pending = 0, seen = Set<Int>()
        while index < entries.count, seen.insert(index).inserted {
            let entry = entries[index]
            if entry.slots[0].opcode == Opcode.exit { return nil }
            guard let target = entry.target else { index += 1; continue }
            if entry.slots[0].opcode != Opcode.jumpAlways {
                pending += 1
                index += 1
                continue
            }
            if stops.contains(target) { return pending }
            guard let next = labels[target.number] else { return nil }
            index = next
        }
        return index < entries.count ? nil : pending   // past the end: on into what follows
    }

    // MARK: Labels and raw instructions

    /// A label to place later (`label(_:)`); `name` says what the place is, in messages.
    public mutating func newLabel(_ name: String) -> Label {
        madeLabels += 1
        return Label(number: madeLabels, name: name)
    }

    /// Places `label` at the position of the next instruction.
    public mutating func label(_ label: Label) {
        if labels[label.number] != nil { duplicateLabels.append(label) }
        labels[label.number] = entries.count
    }

    public mutating func emit(_ instruction: EBPFInstruction, jumpingTo target: Label? = nil) {
        entries.append(Entry(slots: [instruction], target: target))
    }

    // MARK: Arithmetic

    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ immediate: Int32, width: ALUWidth = .bits64) {
        emit(EBPFInstruction(opcode: width.instructionClass | operation.rawValue | Opcode.sourceImmediate,
                             dst: dst.rawValue, immediate: immediate))
    }

    public mutating func alu(_ operation: ALUOperation, _ dst: Register, _ src: Register, width: ALUWidth = .bits64) {
        emit(EBPFInstruction(opcode: width.instructionClass | operation.rawValue | Opcode.sourceRegister,
                             dst: dst.rawValue, src: src.rawValue))
    }

    public mutating func move(_ dst: Register, _ immediate: Int32, width: ALUWidth = .bits64) {
        alu(.move, dst, immediate, width: width)
    }

    public mutating func move(_ dst: Register, _ src: Register, width: ALUWidth = .bits64) {
        alu(.move, dst, src, width: width)
    }

    public mutating func add(_ dst: Register, _ immediate: Int32, width: ALUWidth = .bits64) {
        alu(.add, dst, immediate, width: width)
    }

    public mutating func add(_ dst: Register, _ src: Register, width: ALUWidth = .bits64) {
        alu(.add, dst, src, width: width)
    }

    public mutating func negate(_ dst: Register, width: ALUWidth = .bits64) {
        emit(EBPFInstruction(opcode: width.instructionClass | ALUOperation.negate.rawValue, dst: dst.rawValue))
    }

    /// `dst = be16/be32/be64 dst`: big-endian to host order on this (little-endian) machine.
    public mutating func byteSwapFromBigEndian(_ dst: Register, bits: Int32) {
        emit(EBPFInstruction(opcode: Opcode.endianToBig, dst: dst.rawValue, immediate: bits))
    }

    /// `dst = value` in two slots.
    public mutating func loadImmediate64(_ dst: Register, _ value: UInt64) {
        entries.append(Entry(slots: EBPFInstruction.loadImmediate64(dst, value)))
    }

    /// `dst = map` for the map called `name` (resolved later with `resolveMaps`).
    public mutating func loadMap(_ dst: Register, named name: MapName) {
        entries.append(Entry(slots: EBPFInstruction.loadMap(dst, named: name)))
    }

    /// `dst = &value + offset` of the array map called `name` (no lookup call).
    public mutating func loadMapValue(_ dst: Register, named name: MapName, offset: Int32 = 0) {
        entries.append(Entry(slots: EBPFInstruction.loadMapValue(dst, named: name, offset: offset)))
    }

    // MARK: Memory

    /// `dst = *(size *)(src + offset)`
    public mutating func load(_ size: MemorySize, _ dst: Register, from src: Register, offset: Int16) {
        emit(EBPFInstruction(opcode: Opcode.classLoadX | size.rawValue | Opcode.modeMemory,
                             dst: dst.rawValue, src: src.rawValue, offset: offset))
    }

    /// `*(size *)(dst + offset) = src`
    public mutating func store(_ size: MemorySize, to dst: Register, offset: Int16, from src: Register) {
        emit(EBPFInstruction(opcode: Opcode.classStoreX | size.rawValue | Opcode.modeMemory,
                             dst: dst.rawValue, src: src.rawValue, offset: offset))
    }

    /// `*(size *)(dst + offset) = immediate`
    public mutating func store(_ size: MemorySize, to dst: Register, offset: Int16, immediate: Int32) {
        emit(EBPFInstruction(opcode: Opcode.classStore | size.rawValue | Opcode.modeMemory,
                             dst: dst.rawValue, offset: offset, immediate: immediate))
    }

    // MARK: Control flow

    public mutating func jump(to target: Label) {
        emit(EBPFInstruction(opcode: Opcode.jumpAlways), jumpingTo: target)
    }

    /// `if condition goto target`, written `if !condition goto L; goto target; L:` and kept so
    /// (`assemble` would otherwise fold it back): the verifier follows a conditional's
    /// fall-through first and keeps the jump's way pending, so it follows `target` first.
    public mutating func jumpFollowedFirst(if condition: JumpCondition, _ dst: Register, _ operand: JumpOperand,
                                           to target: Label, width: ALUWidth = .bits64) {
        guard let negated = condition.negated else { jump(if: condition, dst, operand, to: target, width: width); return }
        let proceed = newLabel("\(target.name).proceed")
        jump(if: negated, dst, operand, to: proceed, width: width)
        keptJump(to: target, before: proceed)
    }

    /// `if dst <condition> operand goto target`.
    public mutating func jump(if condition: JumpCondition, _ dst: Register, _ operand: JumpOperand,
                              to target: Label, width: ALUWidth = .bits64) {
        switch operand {
        case let .immediate(value): jump(if: condition, dst, value, to: target, width: width)
        case let .register(src): jump(if: condition, dst, src, to: target, width: width)
        }
    }

    private mutating func keptJump(to target: Label, before proceed: Label) {
        entries.append(Entry(slots: [EBPFInstruction(opcode: Opcode.jumpAlways)], target: target, kept: true))
        label(proceed)
    }

    public mutating func jump(if condition: JumpCondition, _ dst: Register, _ immediate: Int32,
                              to target: Label, width: ALUWidth = .bits64) {
        let jumpClass = width == .bits32 ? Opcode.classJump32 : Opcode.classJump
        emit(EBPFInstruction(opcode: jumpClass | condition.rawValue | Opcode.sourceImmediate,
                             dst: dst.rawValue, immediate: immediate), jumpingTo: target)
    }

    public mutating func jump(if condition: JumpCondition, _ dst: Register, _ src: Register,
                              to target: Label, width: ALUWidth = .bits64) {
        let jumpClass = width == .bits32 ? Opcode.classJump32 : Opcode.classJump
        emit(EBPFInstruction(opcode: jumpClass | condition.rawValue | Opcode.sourceRegister,
                             dst: dst.rawValue, src: src.rawValue), jumpingTo: target)
    }

    public mutating func jumpIfEqual(_ dst: Register, _ immediate: Int32, to target: Label) {
        jump(if: .equal, dst, immediate, to: target)
    }

    public mutating func jumpIfNotEqual(_ dst: Register, _ immediate: Int32, to target: Label) {
        jump(if: .notEqual, dst, immediate, to: target)
    }

    public mutating func jumpIfGreater(_ dst: Register, _ src: Register, to target: Label) {
        jump(if: .greater, dst, src, to: target)
    }

    /// `may_goto target`: continue, or jump once the kernel's loop budget is spent.
    public mutating func mayGoto(_ target: Label) {
        emit(EBPFInstruction(opcode: Opcode.mayGoto), jumpingTo: target)
    }

    public mutating func call(_ helper: HelperFunction) {
        emit(EBPFInstruction(opcode: Opcode.call, immediate: helper.rawValue))
    }

    /// Calls the kernel function (kfunc) whose BTF id in vmlinux is `id`.
    public mutating func call(kernelFunction id: Int32) {
        emit(EBPFInstruction(opcode: Opcode.call, src: Opcode.pseudoKernelFunctionCall, immediate: id))
    }

    public mutating func exit() {
        emit(EBPFInstruction(opcode: Opcode.exit))
    }

    // MARK: Fix-up

    /// Resolves every label to a slot offset and returns the program. Unreachable instructions
    /// and jumps to the next instruction are dropped first. Throws on an unknown or duplicate
    /// label, or an offset that does not fit in 16 bits.
    public func assemble() throws(AssemblerError) -> [EBPFInstruction] {
        if let label = duplicateLabels.first { throw AssemblerError("label '\(label.name)' is placed twice") }
        var entries = entries
        var live = entries.indices.map { _ in true }
        var targets: [Int?] = []
        for entry in entries {
            guard let label = entry.target else { targets.append(nil); continue }
            guard let index = labels[label.number] else { throw AssemblerError("jump to label '\(label.name)', which is never placed") }
            targets.append(index)
        }
        // Alternate the two simplifications until neither changes anything.
        while true {
            let reachable = reachableEntries(live: live, targets: targets)
            var changed = reachable != live
            live = reachable
            for index in entries.indices where live[index] && entries[index].slots[0].opcode == Opcode.jumpAlways {
                if let target = targets[index], nextLive(after: index, live: live) == nextLive(atOrAfter: target, live: live) {
                    live[index] = false
                    changed = true
                }
            }
            // `if c goto L; goto M; L:` becomes `if !c goto M; L:`.
            for index in entries.indices where live[index] {
                let following = nextLive(after: index, live: live)
                guard following < entries.count, entries[following].slots[0].opcode == Opcode.jumpAlways, !entries[following].kept,
                      let target = targets[index], let negated = Assembler.negatedJump(entries[index].slots[0].opcode),
                      nextLive(atOrAfter: target, live: live) == nextLive(after: following, live: live),
                      !entries.indices.contains(where: { live[$0] && targets[$0].map { nextLive(atOrAfter: $0, live: live) } == following })
                else { continue }
                entries[index].slots[0].opcode = negated
                entries[index].target = entries[following].target
                targets[index] = targets[following]
                live[following] = false
                changed = true
            }
            if !changed { break }
        }
        // Slot position of each live entry (and of the end, for labels placed last).
        var position = [Int](repeating: 0, count: entries.count + 1)
        var slot = 0
        for index in entries.indices {
            position[index] = slot
            if live[index] { slot += entries[index].slots.count }
        }
        position[entries.count] = slot
        var program: [EBPFInstruction] = []
        program.reserveCapacity(slot)
        for index in entries.indices where live[index] {
            var slots = entries[index].slots
            if let target = targets[index] {
                let distance = position[nextLive(atOrAfter: target, live: live)] - (position[index] + 1)
                // A far unconditional jump is `gotol`: already at a quarter of the 16-bit range,
                // as the kernel's own rewriting (inlined helpers) lengthens the program and
                // refuses to patch a 16-bit jump that no longer fits.
                if slots[0].opcode == Opcode.jumpAlways, abs(distance) > Int(Int16.max) / 4, let long = Int32(exactly: distance) {
                    slots[0].opcode = Opcode.jumpAlwaysLong
                    slots[0].immediate = long
                    program += slots
                    continue
                }
                guard let offset = Int16(exactly: distance) else {
                    throw AssemblerError("jump to '\(entries[index].target?.name ?? "")' spans \(distance) instructions; the limit is ±32767")
                }
                slots[0].offset = offset
            }
            program += slots
        }
        return program
    }

    /// The opcode of the conditional jump taken exactly when this one is not, if there is one.
    private static func negatedJump(_ opcode: UInt8) -> UInt8? {
        let instructionClass = Opcode.classOf(opcode)
        guard instructionClass == Opcode.classJump || instructionClass == Opcode.classJump32,
              let negated = JumpCondition(rawValue: opcode & 0xf0)?.negated else { return nil }
        return negated.rawValue | (opcode & 0x0f)
    }

    private func nextLive(atOrAfter index: Int, live: [Bool]) -> Int {
        var index = index
        while index < entries.count && !live[index] { index += 1 }
        return index
    }

    private func nextLive(after index: Int, live: [Bool]) -> Int {
        nextLive(atOrAfter: index + 1, live: live)
    }

    /// Entries some path from the first live entry reaches, following jumps through dead entries.
    private func reachableEntries(live: [Bool], targets: [Int?]) -> [Bool] {
        var reached = entries.indices.map { _ in false }
        var pending = [nextLive(atOrAfter: 0, live: live)]
        while let index = pending.popLast() {
            guard index < entries.count, !reached[index] else { continue }
            reached[index] = true
            let opcode = entries[index].slots[0].opcode
            if let target = targets[index] { pending.append(nextLive(atOrAfter: target, live: live)) }
            if opcode != Opcode.exit && opcode != Opcode.jumpAlways {
                pending.append(nextLive(after: index, live: live))
            }
        }
        return reached
    }
}
