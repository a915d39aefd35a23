import CSystemLibraries
import EBPF

extension BPFMap {
    /// Creates a table of the lookup groups (an LPM trie, a hash map of one prefix length, or
    /// the port array) and fills it. The map has room for its entries and `spare` more (for entries added
    /// while it is live, `xdpfw set add`).
    public static func create(_ table: LookupTable, spare: Int = 0) throws(KernelError) -> BPFMap {
        // Spare room costs nothing until used: tries always allocate per entry, hash maps
        // with spare room are made to.
        // An array has its length from the start (its entries cannot be deleted, only zeroed).
        let map = try BPFMap.create(type: table.arrayLength != nil ? .array : table.isHash ? .hash : .lpmTrie, keySize: table.keySize,
                                    valueSize: table.valueSize,
                                    maxEntries: table.arrayLength ?? max(table.entries.count + spare, 1), name: "xdpfw_lookup",
                                    flags: table.isHash && spare > 0 ? UInt32(BPF_F_NO_PREALLOC) : 0)
        do {
            try map.updateBatch(table.entries)
        } catch {
            map.close()
            throw error
        }
        return map
    }
}

extension LookupTable {
    /// Room left in a table for entries added live (`xdpfw set add`).
    public var spareEntries: Int { max(65_536, entries.count) }
}
