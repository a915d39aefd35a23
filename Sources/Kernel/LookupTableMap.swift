import EBPF

extension BPFMap {
    /// Creates a table of the lookup groups (an LPM trie, or a hash map of one prefix length)
    /// and fills it. The trie has room for its entries
    /// and `spare` more (for entries added while it is live).
    public static func create(_ table: LookupTable, spare: Int = 0) throws(KernelError) -> BPFMap {
        let map = try BPFMap.create(type: table.isHash ? .hash : .lpmTrie, keySize: table.keySize, valueSize: LookupTable.valueSize,
                                    maxEntries: max(table.entries.count + spare, 1), name: "xdpfw_lookup")
        do {
            try map.updateBatch(table.entries)
        } catch {
            map.close()
            throw error
        }
        return map
    }
}
