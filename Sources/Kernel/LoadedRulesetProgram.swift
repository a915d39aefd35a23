import EBPF

/// A ruleset program loaded with its maps: the per-CPU counters (`counterSlots` slots of
/// `EBPFRulesetProgram.counterValueSize` bytes) and the filled tables of its lookup groups. A
/// ruleset split into chunks (`RulesetChunk`) is several programs and the program array that
/// chains them.
public struct LoadedRulesetProgram: Sendable {
    /// The program attached at the hook (the first chunk).
    public let program: BPFProgram
    /// Every program of the ruleset in chain order, `program` first.
    public let programs: [BPFProgram]
    public let counters: BPFMap
    /// Instruction slots of the programs as loaded.
    public let instructionCount: Int
    /// Maps to pin beside the counters (each as its name's `pinEntry`): the lookup tables,
    /// with room to grow, so that `xdpfw set add` can change their entries while the program runs,
    /// and the program array of a chained ruleset (`MapName.chunks`, entry i = chunk i;
    /// the kernel flushes its entries when no descriptor or pin holds it any more).
    public var pinnedMaps: [MapName: BPFMap] = [:]

    public static func load(_ instructions: [EBPFInstruction], type: Hook.Kind, name: String,
                            counterMap: MapName = .counters, counterSlots: Int, lookupTables: [LookupTable],
                            log: PacketLogMaps = .standard, xdpFragments: Bool = true) throws -> LoadedRulesetProgram {
        try load(chunks: [instructions], type: type, name: name, counterMap: counterMap,
                 counterSlots: counterSlots, lookupTables: lookupTables, log: log, xdpFragments: xdpFragments)
    }

    /// Loads the programs of a ruleset (one, or chunks chained through the program array
    /// `chunkMap`), each through the verifier, and fills the program array. When the programs
    /// refer to the drop log's maps (`log`), those are created too and pinned under their names.
    /// `xdpFragments`: see `BPFProgram.load` (every chunk is loaded alike).
    public static func load(chunks: [[EBPFInstruction]], type: Hook.Kind, name: String, counterMap: MapName = .counters,
                            chunkMap: MapName = .chunks, counterSlots: Int, lookupTables: [LookupTable],
                            log: PacketLogMaps = .standard, xdpFragments: Bool = true,
                            boundTo interface: UInt32? = nil) throws -> LoadedRulesetProgram {
        guard !chunks.isEmpty else { throw KernelError.invalidArgument("a ruleset needs at least one program") }
        let counters = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: EBPFRulesetProgram.counterValueSize,
                                         maxEntries: counterSlots, name: "xdpfw_counters")
        var lookups: [MapName: BPFMap] = [:], programs: [BPFProgram] = [], chunkTable: BPFMap?
        do {
            var descriptors = [counterMap: counters.fd]
            for table in lookupTables {
                let map = try BPFMap.create(table, spare: table.spareEntries)
                lookups[table.name] = map
                descriptors[table.name] = map.fd
            }
            if chunks.contains(where: { $0.mapReferences.contains(log.switchMap) }) {
                for (name, map) in try PacketLogTables.create(log) {
                    lookups[name] = map
                    descriptors[name] = map.fd
                }
            }
            if chunks.count > 1 {
                let table = try BPFMap.create(type: .programArray, keySize: 4, valueSize: 4, maxEntries: chunks.count,
                                              name: "xdpfw_chunks")
                chunkTable = table
                descriptors[chunkMap] = table.fd
            }
            var instructionCount = 0
            for (number, chunk) in chunks.enumerated() {
                var resolved = chunk
                try resolved.resolveMaps(descriptors)
                instructionCount += resolved.count
                let chunkName = number == 0 ? name : "\(name.prefix(11))_\(number)"
                // Only the attached program may be device-bound (the kernel tail-calls no such program).
                programs.append(try BPFProgram.load(type: type, instructions: resolved.encoded, name: chunkName,
                                                     xdpFragments: xdpFragments, boundTo: number == 0 ? interface : nil))
            }
            var pinned = lookups
            if let chunkTable {
                for (number, program) in programs.enumerated().dropFirst() {
                    try chunkTable.update(key: BPFMap.key(index: UInt32(number)), value: BPFMap.key(index: UInt32(bitPattern: program.fd)))
                }
                pinned[chunkMap] = chunkTable
            }
            return LoadedRulesetProgram(program: programs[0], programs: programs, counters: counters,
                                        instructionCount: instructionCount, pinnedMaps: pinned)
        } catch {
            programs.forEach { $0.close() }
            chunkTable?.close()
            counters.close()
            lookups.values.forEach { $0.close() }
            throw error
        }
    }

    /// The memory the kernel charges for every map the ruleset loaded (counters, lookup and
    /// classifier tables, the program array), as its fdinfo reports it.
    public var mapBytes: Int {
        ([counters] + Array(pinnedMaps.values)).reduce(0) { $0 + ($1.memoryBytes ?? 0) }
    }

    public func close() {
        programs.forEach { $0.close() }
        counters.close()
        pinnedMaps.values.forEach { $0.close() }
    }
}
