import EBPF

/// A ruleset program loaded with its maps: the per-CPU counters (`counterSlots` slots of
/// `EBPFRulesetProgram.counterValueSize` bytes) and the filled tries of its lookup groups
/// (which the program holds from then on: their descriptors are closed).
public struct LoadedRulesetProgram: Sendable {
    public let program: BPFProgram
    public let counters: BPFMap
    /// Instruction slots of the program as loaded.
    public let instructionCount: Int

    public static func load(_ instructions: [EBPFInstruction], type: BPFProgramType, name: String,
                            counterMap: String, counterSlots: Int, lookupTables: [LookupTable]) throws -> LoadedRulesetProgram {
        let counters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: EBPFRulesetProgram.counterValueSize,
                                         maxEntries: counterSlots, name: "xdpfw_counters")
        var lookups: [BPFMap] = []
        defer { lookups.forEach { $0.close() } }
        do {
            var descriptors = [counterMap: counters.fd]
            for table in lookupTables {
                let map = try BPFMap.create(table)
                lookups.append(map)
                descriptors[table.name] = map.fd
            }
            var resolved = instructions
            try resolved.resolveMaps(descriptors)
            let program = try BPFProgram.load(type: type, instructions: resolved.encoded, name: name)
            return LoadedRulesetProgram(program: program, counters: counters, instructionCount: resolved.count)
        } catch {
            counters.close()
            throw error
        }
    }

    public func close() {
        program.close()
        counters.close()
    }
}
