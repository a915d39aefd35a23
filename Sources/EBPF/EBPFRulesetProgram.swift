import FilterCompiler
import PacketFormats

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
                                hook: any HookContext, counterMap: MapName = .counters, log: PacketLogMaps? = nil) throws(AssemblerError) -> [EBPFInstruction] {
        try generate(segments: rules.enumerated().map { .filter($1.filter, verdict: $1.verdict, slot: $0 + 1) },
                     policy: policy, hook: hook, counterMap: counterMap, log: log)
    }

    /// The program for rules in order, some of them merged into lookup groups (whose tries,
    /// `LookupGroup.tables(hook:)`, must be loaded under their names with the counter map).
    /// With `log`, each decision may also go to the drop log (`PacketLogEmitter`).
    public static func generate(segments: [RulesetSegment], policy: Verdict,
                                hook: any HookContext, counterMap: MapName = .counters, log: PacketLogMaps? = nil) throws(AssemblerError) -> [EBPFInstruction] {
        try generate(segments: segments, range: segments.indices, link: .alone, policy: policy, hook: hook,
                     counterMap: counterMap, log: log)
    }

    /// One program of a ruleset: the segments in `range`, then the policy (or, in a chain, a
    /// tail call to the next program; see `RulesetChunks`).
    static func generate(segments: [RulesetSegment], range: Range<Int>, link: ChainLink, policy: Verdict,
                         hook: any HookContext, counterMap: MapName = .counters, log: PacketLogMaps? = nil) throws(AssemblerError) -> [EBPFInstruction] {
        let slot = MachineLayout.accumulator, verdict = MachineLayout.index
        var asm = Assembler()
        let count = asm.newLabel("count"), logging = asm.newLabel("log"), returning = asm.newLabel("return")
        // Segment i starts at starts[i - range.lowerBound]; the last is the end of the segments.
        let starts = (range.lowerBound...range.upperBound).map { asm.newLabel("segment\($0)") }
        if log != nil && hook.metadataVLAN == nil {
            // The log copies the frame through the context (a hook with a metadata tag saves it anyway).
            asm.saveContext()
        }
        switch link {
        case .alone:
            ProgramPrologue.emit(hook: hook, into: &asm)
            SocketBufferPull.emit(hook: hook, reach: PacketReach(segments: segments), into: &asm)
        case .first:
            ProgramPrologue.emit(hook: hook, into: &asm)
            SocketBufferPull.emit(hook: hook, reach: PacketReach(segments: segments), into: &asm)
            ChainState.save(hook: hook, into: &asm)
        case .continuation:
            ChainState.restore(hook: hook, into: &asm)
            ProgramPrologue.emitFrameLength(hook: hook, into: &asm)
        }
        var evaluated: Set<Int> = []
        for index in range {
            asm.label(starts[index - range.lowerBound])
            let classifier = segments[index].classifierNumber
            emit(segments[index], index: index, hook: hook, evaluating: classifier.map { !evaluated.contains($0) } ?? false,
                 next: starts[index + 1 - range.lowerBound], count: count, into: &asm)
            if let classifier { evaluated.insert(classifier) }
        }
        asm.label(starts[starts.count - 1])
        if let next = link.next {
            // No rule so far matched: on to the next program (the context is still in r1). The
            // call returns only when the program array has no such entry, and then the policy
            // decides. (`apply` and `detach` keep the old array filled until packets in flight
            // have left the old chain: Kernel's ProgramRuns.waitForRunsInProgress.)
            asm.loadMap(.r2, named: next.map)
            asm.move(.r3, Int32(next.index))
            asm.call(.tailCall)
        }
        asm.move(slot, 0, width: .bits32)
        asm.move(verdict, hook.returnCode(for: policy), width: .bits32)
        asm.jump(to: count)
        // count: counters[slot] += (1, len); return verdict
        asm.label(count)
        asm.store(.word, to: .r10, offset: MachineLayout.counterKeySlot, from: slot)
        asm.loadMap(.r1, named: counterMap)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(MachineLayout.counterKeySlot))
        asm.call(.mapLookupElement)
        asm.jump(if: .equal, .r0, 0, to: log == nil ? returning : logging)
        asm.load(.double, .r1, from: .r0, offset: 0)
        asm.add(.r1, 1)
        asm.store(.double, to: .r0, offset: 0, from: .r1)
        asm.load(.double, .r1, from: .r0, offset: 8)
        asm.load(.word, .r2, from: .r10, offset: MachineLayout.lengthSlot)
        asm.add(.r1, .r2)
        asm.store(.double, to: .r0, offset: 8, from: .r1)
        if let log {
            asm.label(logging)
            PacketLogEmitter.emit(maps: log, hook: hook, returning: returning, into: &asm)
        }
        ProgramEpilogue.emitReturn(hook: hook, verdict: verdict, at: returning, into: &asm)
        return try asm.assemble()
    }

    /// One segment's code. Each rule's match sets its slot and verdict right after its filter,
    /// so the filter's conditional jumps stay short however long the program; the jump to the
    /// counting code at the end (`count`) becomes `gotol` when it is far. No match: on to the next
    /// segment (`next`). `evaluating`: a classifier's part that is the first of its parts in the
    /// program evaluates the classifier (see `ClassifierPart`).
    static func emit(_ segment: RulesetSegment, index: Int, hook: any HookContext, evaluating: Bool,
                     next: Label, count: Label, into asm: inout Assembler) {
        let slot = MachineLayout.accumulator, verdict = MachineLayout.index
        switch segment {
        case let .filter(filter, ruleVerdict, ruleSlot):
            let match = asm.newLabel("rule\(ruleSlot - 1).match")
            var emitter = FilterEmitter(program: filter, hook: hook, name: "rule\(ruleSlot - 1)",
                                        matchLabel: match, noMatchLabel: next)
            emitter.emit(into: &asm)
            asm.label(match)
            asm.move(slot, Int32(ruleSlot), width: .bits32)
            asm.move(verdict, hook.returnCode(for: ruleVerdict), width: .bits32)
            asm.jump(to: count)
        case let .lookup(group):
            let emitter = LookupEmitter(group: group, hook: hook, tables: group.layouts,
                                        matchLabel: count, noMatchLabel: next)
            emitter.emit(into: &asm)
        case let .classifier(classifier, part) where part.count == 1:
            ClassifierEmitter(classifier: classifier, hook: hook, matchLabel: count, noMatchLabel: next)
                .emit(into: &asm)
        case let .classifier(classifier, part):
            let result = MachineLayout.classifierResultSlot, resultVerdict = MachineLayout.classifierResultVerdictSlot
            let partStart = asm.newLabel("segment\(index).part")
            if evaluating {
                // The first match, or none (u32 max), kept for the parts after this one.
                let found = asm.newLabel(classifier.prefix + ".parts.found"), none = asm.newLabel(classifier.prefix + ".parts.none")
                ClassifierEmitter(classifier: classifier, hook: hook, matchLabel: found, noMatchLabel: none).emit(into: &asm)
                asm.label(found)
                asm.store(.word, to: .r10, offset: result, from: slot)
                asm.store(.word, to: .r10, offset: resultVerdict, from: verdict)
                asm.jump(to: partStart)
                asm.label(none)
                asm.store(.word, to: .r10, offset: result, immediate: -1)
                asm.store(.word, to: .r10, offset: resultVerdict, immediate: 0)   // read on no path, but written on each
            }
            asm.label(partStart)
            asm.load(.word, .r2, from: .r10, offset: result)
            asm.jump(if: .greater, .r2, Int32(part.slots.upperBound), to: next, width: .bits32)
            asm.move(slot, .r2, width: .bits32)
            asm.load(.word, verdict, from: .r10, offset: resultVerdict)
            asm.jump(to: count)
        }
    }
}

extension RulesetSegment {
    /// The number of the classifier whose part this is; nil for filters and lookups.
    var classifierNumber: Int? {
        if case let .classifier(classifier, _) = self { classifier.number } else { nil }
    }
}

/// A piece of a ruleset program: one rule's filter, or a run of rules merged into lookups.
public enum RulesetSegment: Hashable, Sendable {
    /// A rule's filter; `slot` is its counter slot (rule index + 1).
    case filter(FilterProgram, verdict: Verdict, slot: Int)
    case lookup(LookupGroup)
    /// Rules decomposed into field constraints, matched by one packet classifier: the part of
    /// its rules that stands here in the order (`ClassifierPart`).
    case classifier(PacketClassifier, part: ClassifierPart)
}

/// One filter alone, without counters: `onMatch` when it matches, `otherwise` when not
/// (what `xdpfw compile --ebpf EXPRESSION` lists, and what tests load).
public enum EBPFFilterProgram {
    public static func generate(_ filter: FilterProgram, hook: any HookContext,
                                onMatch: Verdict = .pass, otherwise: Verdict = .drop) throws(AssemblerError) -> [EBPFInstruction] {
        var asm = Assembler()
        ProgramPrologue.emit(hook: hook, into: &asm)
        SocketBufferPull.emit(hook: hook, reach: PacketReach(filter: filter), into: &asm)
        let match = asm.newLabel("match"), noMatch = asm.newLabel("nomatch"), returning = asm.newLabel("return")
        var emitter = FilterEmitter(program: filter, hook: hook, name: "", matchLabel: match, noMatchLabel: noMatch)
        emitter.emit(into: &asm)
        let verdict = MachineLayout.index
        asm.label(noMatch)
        asm.move(verdict, hook.returnCode(for: otherwise), width: .bits32)
        asm.jump(to: returning)
        asm.label(match)
        asm.move(verdict, hook.returnCode(for: onMatch), width: .bits32)
        ProgramEpilogue.emitReturn(hook: hook, verdict: verdict, at: returning, into: &asm)
        return try asm.assemble()
    }
}

/// The start of every program: a VLAN tag in metadata moved into the frame (where the hook
/// keeps one) and the frame length into its slot. (Each filter loads the packet pointers.)
/// A program's first part follows it with `SocketBufferPull`.
enum ProgramPrologue {
    static func emit(hook: any HookContext, into asm: inout Assembler) {
        let layout = MachineLayout.self
        if let vlan = hook.metadataVLAN {
            let frame = asm.newLabel("prologue.frame")
            asm.saveContext()
            asm.load(.word, .r2, from: layout.context, offset: vlan.presentOffset)
            asm.store(.word, to: .r10, offset: layout.vlanPresentSlot, from: .r2)
            asm.load(.word, .r3, from: layout.context, offset: vlan.tciOffset)
            asm.store(.word, to: .r10, offset: layout.vlanTCISlot, from: .r3)
            asm.store(.double, to: .r10, offset: layout.vlanInlinedWord, immediate: 0)
            asm.jump(if: .equal, .r2, 0, to: frame)
            // Pushing a placeholder tag moves the real one into the frame.
            asm.move(.r2, layout.placeholderVLANProtocol)
            asm.move(.r3, 0)
            asm.call(.skbVLANPush)
            asm.jump(if: .notEqual, .r0, 0, to: frame)   // refused: the frame stays as it is
            asm.store(.byte, to: .r10, offset: layout.vlanInlinedSlot, immediate: 1)
            asm.label(frame)
            asm.reloadContext()
        }
        if let function = hook.metadataVLANFunction { emitTagInsertion(function: function, hook: hook, into: &asm) }
        emitFrameLength(hook: hook, into: &asm)
    }

    /// XDP with a device-bound program: a tag the NIC took out of the frame (the kfunc says
    /// so) goes back in after the MAC addresses, as on the wire: the head grows by 4 bytes
    /// (`bpf_xdp_adjust_head`), the addresses move to the new start, the tag follows them.
    /// `vlanInlinedSlot` says so for the epilogue, which takes it out again for a frame that
    /// passes. A frame the head cannot grow for keeps its tag in metadata (unseen, as before).
    static func emitTagInsertion(function: Int32, hook: any HookContext, into asm: inout Assembler) {
        let layout = MachineLayout.self
        // The addresses (12 bytes: loaded as 8 + 4), then the tag (4), then the type field.
        let addresses = Int16(Protocols.Ethernet.typeField), tag = Int32(Protocols.VLAN.tagLength)
        let tagged = asm.newLabel("prologue.tagged"), untag = asm.newLabel("prologue.untag")
        asm.saveContext()
        asm.store(.double, to: .r10, offset: layout.vlanInlinedWord, immediate: 0)
        asm.store(.double, to: .r10, offset: layout.metadataVLANProtocolSlot, immediate: 0)
        asm.move(.r2, .r10)
        asm.add(.r2, Int32(layout.metadataVLANProtocolSlot))
        asm.move(.r3, .r10)
        asm.add(.r3, Int32(layout.metadataVLANTCISlot))
        asm.call(kernelFunction: function)
        asm.jump(if: .notEqual, .r0, 0, to: tagged)   // no tag in metadata (or no driver support)
        asm.reloadContext()
        asm.move(.r2, -tag)
        asm.call(.xdpAdjustHead)
        asm.jump(if: .notEqual, .r0, 0, to: tagged)
        asm.reloadContext()
        asm.load(.word, .r2, from: layout.context, offset: hook.dataOffset)
        asm.load(.word, .r3, from: layout.context, offset: hook.dataEndOffset)
        asm.move(.r4, .r2)
        asm.add(.r4, Int32(addresses) + tag)
        asm.jump(if: .greater, .r4, .r3, to: untag)   // cannot happen: the frame had its addresses
        asm.load(.double, .r4, from: .r2, offset: Int16(tag))
        asm.store(.double, to: .r2, offset: 0, from: .r4)
        asm.load(.word, .r4, from: .r2, offset: addresses)
        asm.store(.word, to: .r2, offset: 8, from: .r4)
        asm.load(.half, .r4, from: .r10, offset: layout.metadataVLANProtocolSlot)
        asm.store(.half, to: .r2, offset: addresses, from: .r4)
        asm.load(.half, .r4, from: .r10, offset: layout.metadataVLANTCISlot)
        asm.byteSwapFromBigEndian(.r4, bits: 16)   // to big-endian: the same swap
        asm.store(.half, to: .r2, offset: addresses + 2, from: .r4)
        asm.store(.byte, to: .r10, offset: layout.vlanInlinedSlot, immediate: 1)
        asm.jump(to: tagged)
        asm.label(untag)
        asm.reloadContext()
        asm.move(.r2, tag)
        asm.call(.xdpAdjustHead)
        asm.label(tagged)
        asm.reloadContext()
    }

    /// The frame length (`len`) into its slot.
    static func emitFrameLength(hook: any HookContext, into asm: inout Assembler) {
        let layout = MachineLayout.self
        switch hook.length {
        case .packetSpan:
            asm.load(.word, layout.address, from: layout.context, offset: hook.dataEndOffset)
            asm.load(.word, layout.limit, from: layout.context, offset: hook.dataOffset)
            asm.alu(.subtract, layout.address, layout.limit)
            asm.store(.word, to: .r10, offset: layout.lengthSlot, from: layout.address)
        case .xdpBufferLength:
            // One helper call per packet (a frame without fragments: data_end - data). The
            // context is kept for the fragment loads, which call a helper too.
            asm.saveContext()
            asm.call(.xdpGetBufferLength)
            asm.store(.word, to: .r10, offset: layout.lengthSlot, from: .r0)
            asm.reloadContext()
        case let .contextField(offset):
            asm.load(.word, layout.address, from: layout.context, offset: offset)
            asm.store(.word, to: .r10, offset: layout.lengthSlot, from: layout.address)
        }
    }
}

/// The end of every program, at the label `returning`: a VLAN tag the prologue moved into the frame
/// goes back to metadata (popping the placeholder lifts it out again), then the verdict in
/// `verdict` (a callee-saved register) is returned.
enum ProgramEpilogue {
    static func emitReturn(hook: any HookContext, verdict: Register, at returning: Label, into asm: inout Assembler) {
        asm.label(returning)
        if hook.metadataVLANFunction != nil {
            let exit = asm.newLabel("return.exit")
            // A tag the prologue put into the frame goes out again when the frame passes (a
            // dropped frame is gone): the addresses move back over it, the head shrinks by 4.
            asm.load(.byte, .r2, from: .r10, offset: MachineLayout.vlanInlinedSlot)
            asm.jump(if: .equal, .r2, 0, to: exit)
            asm.jump(if: .notEqual, verdict, hook.returnCode(for: .pass), to: exit, width: .bits32)
            asm.reloadContext()
            asm.load(.word, .r2, from: .r1, offset: hook.dataOffset)
            asm.load(.word, .r3, from: .r1, offset: hook.dataEndOffset)
            let addresses = Int32(Protocols.Ethernet.typeField), tag = Int32(Protocols.VLAN.tagLength)
            asm.move(.r4, .r2)
            asm.add(.r4, addresses + tag)
            asm.jump(if: .greater, .r4, .r3, to: exit)
            asm.load(.word, .r4, from: .r2, offset: 8)
            asm.store(.word, to: .r2, offset: Int16(addresses), from: .r4)
            asm.load(.double, .r4, from: .r2, offset: 0)
            asm.store(.double, to: .r2, offset: Int16(tag), from: .r4)
            asm.move(.r2, tag)
            asm.call(.xdpAdjustHead)
            asm.label(exit)
        }
        if hook.metadataVLAN != nil {
            let exit = asm.newLabel("return.exit")
            asm.load(.byte, .r2, from: .r10, offset: MachineLayout.vlanInlinedSlot)
            asm.jump(if: .equal, .r2, 0, to: exit)
            asm.reloadContext()
            asm.call(.skbVLANPop)
            asm.label(exit)
        }
        asm.move(.r0, verdict)
        asm.exit()
    }
}
