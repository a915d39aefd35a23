import EBPF

/// A ruleset program loaded with its maps: the per-CPU counters (`counterSlots` slots of
/// `EBPFRulesetProgram.counterValueSize` bytes) and the filled tables of its lookup groups.
public struct LoadedRulesetProgram: Sendable {
    public let program: BPFProgram
    public let counters: BPFMap
    /// Instruction slots of the program as loaded.
    public let instructionCount: Int
    /// Maps to pin beside the counters, by pin entry: the lookup tables (`LookupTable.pinEntry`),
    /// with room to grow, so that `xdpfw set add` can change their entries while the program runs.
    public var pinnedMaps: [String: BPFMap] = [:]

    public static func load(_ instructions: [EBPFInstruction], type: BPFProgramType, name: String,
                            counterMap: String, counterSlots: Int, lookupTables: [LookupTable]) throws -> LoadedRulesetProgram {
        let counters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: EBPFRulesetProgram.counterValueSize,
                                         maxEntries: counterSlots, name: "xdpfw_counters")
        var lookups: [String: BPFMap] = [:]
        do {
            var descriptors = [counterMap: counters.fd]
            for table in lookupTables {
                let map = try BPFMap.create(table, spare: table.spareEntries)
                lookups[LookupTable.pinEntry(forTable: table.name)] = map
                descriptors[table.name] = map.fd
            }
            var resolved = instructions
            try resolved.resolveMaps(descriptors)
            let program = try BPFProgram.load(type: type, instructions: resolved.encoded, name: name)
            return LoadedRulesetProgram(program: program, counters: counters, instructionCount: resolved.count, pinnedMaps: lookups)
        } catch {
            counters.close()
            lookups.values.forEach { $0.close() }
            throw error
        }
    }

    public func close() {
        program.close()
        counters.close()
        pinnedMaps.values.forEach { $0.close() }
    }
}
