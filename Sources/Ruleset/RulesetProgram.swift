/// A ruleset as one eBPF program: the rules in order, first match wins, every decision counted.

import EBPF

extension Ruleset {
    /// The name the program uses for its counters map (resolved to a file descriptor at load).
    public static let counterMapName = "counters"

    /// How many counter slots the program uses: slot 0 counts packets the policy decided, slot
    /// `rule.index + 1` those the rule decided. Each slot holds two u64, packets then bytes,
    /// per CPU.
    public var counterSlots: Int { rules.count + 1 }

    /// The counter slot of a rule, or of the policy when `rule` is nil.
    public static func counterSlot(ofRuleIndex index: Int?) -> Int { index.map { $0 + 1 } ?? 0 }

    /// The program `apply` loads at `hook`: it returns each packet's verdict and counts it.
    public func ebpfProgram(for hook: any HookContext) throws(AssemblerError) -> [EBPFInstruction] {
        try EBPFRulesetProgram.generate(rules: rules.map { ($0.program, $0.verdict) }, policy: policy,
                                        hook: hook, counterMap: Ruleset.counterMapName)
    }
}
