/// A step of the TC prologue, after the VLAN tag is inline: when the socket buffer's linear
/// head is shorter than both the packet and the reach of the rules, `bpf_skb_pull_data` makes
/// the bytes up to the reach (or the whole packet when the reach is not known) linear, so the
/// filters read what libpcap would see instead of stopping at `data_end`. When the pull fails
/// the packet is filtered as it is (loads beyond the head do not match). The filters reload
/// the packet pointers when they start, so nothing else changes.
///
/// A program split into tail-called parts emits this once, in its first part, with the reach
/// of every part's segments (`PacketReach(segments:)` of the whole ruleset): the socket buffer
/// stays pulled for the parts after, which skip this step.
///
/// Cost: the pull copies the bytes beyond the head into a new head (and unclones a cloned
/// buffer, as TCP's transmit path hands out), so the reach matters; see docs/design-ebpf.md.
enum SocketBufferPull {
    static func emit(hook: any HookContext, reach: PacketReach, into asm: inout Assembler) {
        guard hook.nonLinearData == .pulledIntoHead, case let .contextField(lengthOffset) = hook.length, reach != .nothing else { return }
        let layout = MachineLayout.self
        let wanted = Register.r4, linear = Register.r2
        let check = asm.newLabel("pull.check"), done = asm.newLabel("pull.done")
        asm.saveContext()
        // wanted = min(skb->len, reach)
        asm.load(.word, wanted, from: layout.context, offset: lengthOffset)
        if let bytes = reach.bytes {
            asm.jump(if: .lessOrEqual, wanted, Int32(bytes), to: check)
            asm.move(wanted, Int32(bytes))
            asm.label(check)
        }
        asm.load(.word, linear, from: layout.context, offset: hook.dataEndOffset)
        asm.load(.word, .r3, from: layout.context, offset: hook.dataOffset)
        asm.alu(.subtract, linear, .r3)
        asm.jump(if: .greaterOrEqual, linear, wanted, to: done)
        asm.move(.r2, wanted)
        asm.call(.skbPullData)          // fails only without memory: then the head stays as it was
        asm.reloadContext()
        asm.label(done)
    }
}
