import ClassicBPF
import FilterCompiler
import Kernel
import EBPF

/// Rules compiled by libpcap, lifted to the IR for the eBPF back end, and libpcap's own
/// first-match decision for a packet (the oracle of the ruleset tests).
public struct LibpcapRuleset {
    public struct CompileFailure: Error, CustomStringConvertible {
        public var description: String
    }

    public let rules: [(expression: String, verdict: Verdict)]
    public let classic: [[ClassicInstruction]]
    public let filters: [(filter: FilterProgram, verdict: Verdict)]
    private let prepared: [Libpcap.PreparedFilter]

    public init(_ rules: [(expression: String, verdict: Verdict)]) throws {
        self.rules = rules
        var classic: [[ClassicInstruction]] = []
        var filters: [(filter: FilterProgram, verdict: Verdict)] = []
        for rule in rules {
            guard case let .success(program) = Libpcap.compile(rule.expression, optimize: true),
                  let filter = ClassicLifter.lift(program) else {
                throw CompileFailure(description: "libpcap could not compile '\(rule.expression)'")
            }
            classic.append(program)
            filters.append((filter, rule.verdict))
        }
        self.classic = classic
        self.filters = filters
        prepared = classic.map(Libpcap.PreparedFilter.init)
    }

    /// The counter slot libpcap's first match gives the packet (0: the policy; i+1: rule i).
    public func slot(for packet: [UInt8]) -> Int {
        (prepared.firstIndex { $0.run(packet: packet, wireLength: UInt32(packet.count)) != 0 }).map { $0 + 1 } ?? 0
    }

    public func verdict(for packet: [UInt8], policy: Verdict) -> Verdict {
        let slot = slot(for: packet)
        return slot == 0 ? policy : rules[slot - 1].verdict
    }

    /// (packets, bytes) per slot for these packets, as the counter map should hold them.
    public func expectedCounters(_ packets: [[UInt8]]) -> [[UInt64]] {
        var counters = [[UInt64]](repeating: [0, 0], count: rules.count + 1)
        for packet in packets {
            let slot = slot(for: packet)
            counters[slot][0] += 1
            counters[slot][1] += UInt64(packet.count)
        }
        return counters
    }

    /// The ruleset program with its counter map, loaded.
    public func load(policy: Verdict, hook: any HookContext, type: Hook.Kind, xdpFragments: Bool = true) throws -> (BPFProgram, BPFMap) {
        var instructions = try EBPFRulesetProgram.generate(rules: filters, policy: policy, hook: hook)
        let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: EBPFRulesetProgram.counterValueSize,
                                    maxEntries: rules.count + 1, name: "xdpfw_counters")
        try instructions.resolveMaps([.counters: map.fd])
        return (try BPFProgram.load(type: type, instructions: instructions.encoded, name: "xdpfw_ruleset", xdpFragments: xdpFragments), map)
    }

    /// The counter map's (packets, bytes) per slot.
    public static func counters(_ map: BPFMap, slots: Int) throws -> [[UInt64]] {
        try (0..<slots).map { try map.sumUInt64(key: BPFMap.key(index: UInt32($0))) ?? [] }
    }
}
