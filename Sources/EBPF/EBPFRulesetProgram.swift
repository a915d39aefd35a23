import FilterCompiler

/// A whole firewall as one program: the rules' filters in order, first match wins, each
/// match counted in a per-CPU array map.
///
/// The counter map is a BPF_MAP_TYPE_PERCPU_ARRAY with u32 keys and values of two u64
/// (packets, bytes); slot 0 counts the packets the policy decided, slot i+1 those rule i
/// decided. The byte count is the frame length the hook sees (`len`).
public enum EBPFRulesetProgram {
    /// The size of one counter value: packets and bytes, two u64.
    public static let counterValueSize = 16

    public static func generate(rules: [(filter: FilterProgram, verdict: Verdict)], policy: Verdict,
                                hook: any HookContext, counterMap: String) throws(AssemblerError) -> [EBPFInstruction] {
        let slot = MachineLayout.accumulator, verdict = MachineLayout.index
        var asm = Assembler()
        ProgramPrologue.emit(hook: hook, into: &asm)
        for (index, rule) in rules.enumerated() {
            asm.label("rule\(index)")
            var emitter = FilterEmitter(program: rule.filter, hook: hook, prefix: "rule\(index).",
                                        matchLabel: "rule\(index).match", noMatchLabel: "rule\(index + 1)")
            emitter.emit(into: &asm)
        }
        asm.label("rule\(rules.count)")
        asm.move(slot, 0, width: .bits32)
        asm.move(verdict, hook.returnCode(for: policy), width: .bits32)
        asm.jump(to: "count")
        for (index, rule) in rules.enumerated() {
            asm.label("rule\(index).match")
            asm.move(slot, Int32(index + 1), width: .bits32)
            asm.move(verdict, hook.returnCode(for: rule.verdict), width: .bits32)
            asm.jump(to: "count")
        }
        // count: counters[slot] += (1, len); return verdict
        asm.label("count")
        asm.store(.word, to: .r10, offset: MachineLayout.counterKeySlot, from: slot)
        asm.loadMap(.r1, named: counterMap)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(MachineLayout.counterKeySlot))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: "return")
        asm.load(.double, .r1, from: .r0, offset: 0)
        asm.add(.r1, 1)
        asm.store(.double, to: .r0, offset: 0, from: .r1)
        asm.load(.double, .r1, from: .r0, offset: 8)
        asm.load(.double, .r2, from: .r10, offset: MachineLayout.lengthSlot)
        asm.add(.r1, .r2)
        asm.store(.double, to: .r0, offset: 8, from: .r1)
        asm.label("return")
        asm.move(.r0, verdict)
        asm.exit()
        return try asm.assemble()
    }
}

/// One filter alone, without counters: `onMatch` when it matches, `otherwise` when not
/// (what `xdpfw compile --ebpf EXPRESSION` lists, and what tests load).
public enum EBPFFilterProgram {
    public static func generate(_ filter: FilterProgram, hook: any HookContext,
                                onMatch: Verdict = .pass, otherwise: Verdict = .drop) throws(AssemblerError) -> [EBPFInstruction] {
        var asm = Assembler()
        ProgramPrologue.emit(hook: hook, into: &asm)
        var emitter = FilterEmitter(program: filter, hook: hook, prefix: "", matchLabel: "match", noMatchLabel: "nomatch")
        emitter.emit(into: &asm)
        asm.label("nomatch")
        asm.move(.r0, hook.returnCode(for: otherwise))
        asm.exit()
        asm.label("match")
        asm.move(.r0, hook.returnCode(for: onMatch))
        asm.exit()
        return try asm.assemble()
    }
}

/// The start of every program: the packet pointers into their registers and the frame
/// length into its stack slot, the way the hook keeps them.
enum ProgramPrologue {
    static func emit(hook: any HookContext, into asm: inout Assembler) {
        let layout = MachineLayout.self
        asm.load(.word, layout.data, from: layout.context, offset: hook.dataOffset)
        asm.load(.word, layout.dataEnd, from: layout.context, offset: hook.dataEndOffset)
        switch hook.length {
        case .packetSpan:
            asm.move(layout.address, layout.dataEnd)
            asm.alu(.subtract, layout.address, layout.data)
        case let .contextField(offset):
            asm.load(.word, layout.address, from: layout.context, offset: offset)
        }
        asm.store(.double, to: .r10, offset: layout.lengthSlot, from: layout.address)
    }
}
