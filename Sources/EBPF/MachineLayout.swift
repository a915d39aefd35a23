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
    /// Iterations taken so far through a backward edge (protochain's loop), per filter.
    static let loopCounterSlot: Int16 = -136
    /// The frame length (`len`), computed once by the prologue.
    static let lengthSlot: Int16 = -144
    /// The u32 key of the counter lookup.
    static let counterKeySlot: Int16 = -148

    /// Loop iterations a filter may take before it gives up and does not match. protochain's
    /// loop takes one per IPv6 extension header (or AH); 16 covers any real header chain, and
    /// the verifier walks every iteration (23,000 instructions of its 1M budget in all for
    /// `ip6 protochain 6`, growing with the square of the limit).
    static let loopIterationLimit: Int32 = 16

    /// The largest packet offset the verifier tracks for packet pointers (MAX_PACKET_OFF).
    static let maximumPacketOffset: UInt64 = 0xffff
}
