import EBPF
import Kernel
import Ruleset

/// A ruleset loaded into the kernel (through the verifier) but attached nowhere: its program and
/// its counters map. `apply` attaches it; `check` only loads it; `test` runs packets through it.
public struct LoadedRuleset {
    /// What was compiled and loaded: the segments, tables and placement of the rules.
    public let spec: RulesetSpec
    public let hook: Hook.Kind
    /// The programs and maps as Kernel loaded them.
    public let loaded: LoadedRulesetProgram
    /// The lookup maps loaded with it (rule merging).
    public var lookupTableCount = 0
    /// Whether the program reads VLAN tags the NIC took out of frames (XDP, device-bound).
    public var readsMetadataVLAN = false

    public var ruleset: Ruleset { spec.ruleset }
    public var program: BPFProgram { loaded.program }
    public var counters: BPFMap { loaded.counters }
    /// Instruction slots of the programs as loaded.
    public var instructionCount: Int { loaded.instructionCount }
    /// The programs the ruleset was split into (1 unless it is too big for the verifier as one).
    public var programCount: Int { loaded.programs.count }

    /// Builds the program for `hook`, creates its counters map and loads it. A verifier rejection
    /// carries the verifier's log. The ruleset is split into chunks by an estimate of what the
    /// verifier takes (`budget`), and split finer (a halved budget, three times at most) when
    /// the verifier still refuses a chunk as too complex. `logging: false` leaves the drop log's
    /// code out (`bench --without-log`, to measure what it costs).
    /// `multiBuffer`: at XDP, a program that reads frames continuing in fragments
    /// (`XDPHook.multiBuffer`); else a single-buffer one. `metadataVLAN`: at XDP, a program
    /// bound to that interface that reads the VLAN tag its NIC took out of a frame with that
    /// kernel function (`XDPHook.metadataVLANFunction`) — unless the rules need several
    /// programs (a tail-called program cannot be bound): then `readsMetadataVLAN` is false.
    public static func load(_ spec: RulesetSpec, hook: Hook.Kind, budget: ChunkBudget = .verifier, logging: Bool = true,
                            multiBuffer: Bool = true, metadataVLAN: (function: Int32, interface: UInt32)? = nil) throws -> LoadedRuleset {
        var context = hook.context(multiBuffer: multiBuffer, metadataVLANFunction: metadataVLAN?.function)
        let tables = spec.lookupTables(for: context)
        var budget = budget, retries = 0
        while true {
            var chunks = try EBPFListing.assemble { () throws(AssemblerError) in try spec.chunks(for: context, budget: budget, logging: logging) }
            if chunks.count > 1 && context.metadataVLANFunction != nil {
                context = hook.context(multiBuffer: multiBuffer)
                chunks = try EBPFListing.assemble { () throws(AssemblerError) in try spec.chunks(for: context, budget: budget, logging: logging) }
            }
            let bound = context.metadataVLANFunction == nil ? nil : metadataVLAN?.interface
            do {
                let loaded = try LoadedRulesetProgram.load(chunks: chunks.map(\.instructions), type: hook,
                                                           name: "xdpfw_\(hook.rawValue)", counterSlots: spec.counterSlots,
                                                           lookupTables: tables, xdpFragments: multiBuffer, boundTo: bound)
                return LoadedRuleset(spec: spec, hook: hook, loaded: loaded, lookupTableCount: tables.count,
                                     readsMetadataVLAN: bound != nil)
            } catch let error as KernelError where error.isVerifierComplexityLimit && retries < 3
                        && chunks.contains(where: { $0.segments.count > 1 }) {
                budget = ChunkBudget(pendingBranches: budget.pendingBranches / 2, walkedInstructions: budget.walkedInstructions / 2)
                retries += 1
            } catch let error as AssemblerError {
                throw CommandFailure("cannot build the eBPF program: \(error.message)")
            }
        }
    }

    /// `load(_:hook:...)` of the ruleset's spec, built here.
    public static func load(_ ruleset: Ruleset, hook: Hook.Kind, budget: ChunkBudget = .verifier, logging: Bool = true,
                            multiBuffer: Bool = true) throws -> LoadedRuleset {
        try load(RulesetSpec(ruleset), hook: hook, budget: budget, logging: logging, multiBuffer: multiBuffer)
    }

    public func close() {
        loaded.close()
    }

    /// Packets counted so far in every slot (summed over CPUs), index = slot, read with one batch
    /// lookup of the whole map.
    public func packetCounts() throws -> [UInt64] {
        var packets = try counters.sumUInt64AllIndices(word: 0)
        if packets.count != ruleset.counterSlots {
            packets = (0..<ruleset.counterSlots).map { $0 < packets.count ? packets[$0] : 0 }
        }
        return packets
    }

    /// The verdict a return value of the program stands for.
    public func verdict(returnValue: UInt32) -> Verdict? {
        Verdict.allCases.first { UInt32(bitPattern: hook.context.returnCode(for: $0)) == returnValue }
    }
}

extension Counter {
    /// One slot of a counters map: two u64 per CPU, packets then bytes, summed over the CPUs.
    public init(map: BPFMap, slot: Int) throws {
        let sums = try map.sumUInt64(key: BPFMap.key(index: UInt32(slot))) ?? []
        self.init(packets: sums.first ?? 0, bytes: sums.count > 1 ? sums[1] : 0)
    }
}
