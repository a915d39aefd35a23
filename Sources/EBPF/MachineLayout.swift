/// Where the generated code keeps the classic filter machine and the hook's packet pointers.
///
/// A and X live in callee-saved registers so they survive the one helper call (the counter
/// lookup, made after the filters have decided). The context stays in r1 while the filters
/// run (nothing calls a helper before then). M[0..15] are 8-byte stack slots holding the
/// zero-extended 32-bit values, so the verifier tracks them as precisely as registers.
enum MachineLayout {
    static let context = Register.r1
    static let accumulator = Register.r6     // A (32-bit: every operation on it is ALU32)
    static let index = Register.r7           // X
    static let data = Register.r8            // first byte of the packet
    static let dataEnd = Register.r9         // one past the last byte the program may read
    static let address = Register.r2         // packet address computations
    static let limit = Register.r3           // end of an access, compared with dataEnd

    /// M[slot] at r10 - 8 * (slot + 1).
    static func scratchSlot(_ slot: Int) -> Int16 { Int16(-8 * (slot + 1)) }
    /// Iterations taken so far through a backward edge (protochain's loop), per filter: a u16
    /// at an offset that is not 8-byte aligned, so the verifier does not track its value and
    /// the states of successive iterations can be the same (see FilterEmitter's loop stub).
    static let loopCounterSlot: Int16 = -134
    /// The 8-byte slot holding it, zeroed when a filter starts.
    static let loopCounterWord: Int16 = -136
    /// The frame length (`len`), computed once by the prologue: a u32 at an offset that is not
    /// 8-byte aligned, so the verifier does not track its value. (Tracked, a `len > N` test
    /// narrows it, and the states after such a rule differ by their range of `len`: at TC,
    /// where `len` is a 32-bit context field, 1,000 mixed rules then took more than the
    /// verifier's 1,000,000 instructions.)
    static let lengthSlot: Int16 = -140
    /// The u32 key of the counter lookup.
    static let counterKeySlot: Int16 = -148
    /// The context pointer, kept across helper calls (hooks with a metadata VLAN tag, and every
    /// program with a drop log, which copies the frame through the context).
    static let contextSlot: Int16 = -160
    /// The metadata VLAN tag on entry: present (0/1) and its TCI, u32s not tracked by the
    /// verifier (unaligned, as `lengthSlot`), so the paths with and without a tag meet again.
    static let vlanPresentSlot: Int16 = -164
    static let vlanTCISlot: Int16 = -172
    /// Whether the prologue moved the tag inline: one byte at an unaligned offset, so the
    /// verifier does not track its value and the tagged and untagged paths through the filters
    /// prune each other instead of being verified twice.
    static let vlanInlinedSlot: Int16 = -183
    /// The 8-byte slot holding it, zeroed by the prologue.
    static let vlanInlinedWord: Int16 = -184
    /// The key of a lookup group's trie lookup: up to 28 bytes (u32 prefix length, group,
    /// protocol and port, IPv6 address), 8-byte aligned as the verifier wants stack accesses.
    static let lookupKeySlot: Int16 = -224
    /// A packet classifier's row of each field (u32 in an 8-byte slot; PacketClassifier.Field).
    static func classifierRowSlot(_ field: Int) -> Int16 { Int16(-232 - 8 * field) }
    /// The vector pointers of the classifier's rows, spilled until the scan.
    static func classifierVectorSlot(_ field: Int) -> Int16 { Int16(-272 - 8 * field) }
    /// The summarized scan's best slot so far (-1: none) and its verdict.
    static let classifierBestSlot: Int16 = -312
    static let classifierBestVerdictSlot: Int16 = -320
    /// The drop log's array key (u32 0) and the time of the decision it logs (u64).
    static let logKeySlot: Int16 = -328
    static let logTimeSlot: Int16 = -336
    /// Where a fragment load (multi-buffer XDP) has `bpf_xdp_load_bytes` copy the bytes it reads.
    static let fragmentLoadSlot: Int16 = -344
    /// A classifier's first match (its counter slot; u32 max: none) and verdict, kept from its
    /// evaluation for its later parts: u32s at offsets that are not 8-byte aligned, so that the
    /// verifier does not track them and the paths with and without a match meet again.
    static let classifierResultSlot: Int16 = -348
    static let classifierResultVerdictSlot: Int16 = -356
    /// Where `bpf_xdp_metadata_rx_vlan_tag` writes the tag's protocol (big-endian u16) and TCI
    /// (host-order u16), in one 8-byte slot.
    static let metadataVLANProtocolSlot: Int16 = -192
    static let metadataVLANTCISlot: Int16 = -190
    /// `bpf_skb_vlan_push`'s protocol argument: ETH_P_8021Q in network byte order.
    static let placeholderVLANProtocol: Int32 = 0x0081

    /// Loop iterations a filter may take before it gives up and does not match. protochain's
    /// loop takes one per IPv6 extension header (or AH). libpcap has no limit (and loops
    /// forever on an AH header that points back at itself); 256 covers the longest chains in
    /// the corpus (100 headers) and bounds a hostile packet to a few thousand instructions.
    static let loopIterationLimit: Int32 = 256

    /// The largest packet offset the verifier tracks for packet pointers (MAX_PACKET_OFF).
    static let maximumPacketOffset: UInt64 = 0xffff
}

extension Assembler {
    /// Keeps the context pointer in `MachineLayout.contextSlot`: a helper call clobbers r1, and
    /// code that needs the context after one takes it back from there (`reloadContext`).
    mutating func saveContext() {
        store(.double, to: .r10, offset: MachineLayout.contextSlot, from: MachineLayout.context)
    }

    /// The context pointer back from its slot, into `register` (`MachineLayout.context` unless said).
    mutating func reloadContext(into register: Register = MachineLayout.context) {
        load(.double, register, from: .r10, offset: MachineLayout.contextSlot)
    }
}
