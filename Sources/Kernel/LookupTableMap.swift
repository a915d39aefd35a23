import EBPF

extension BPFMap {
    /// Creates a table of the lookup groups (an LPM trie, or a hash map of one prefix length)
    /// and fills it. The map has room for its entries and `spare` more (for entries added
    /// while it is live, `xdpfw set add`).
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

extension LookupTable {
    /// The entry a lookup table is pinned as beside the counters: bpffs takes no '.' in a name,
    /// and the pin directory no '/' (`lookup.address.v4.src/24` → `lookup-address-v4-src-24`).
    public static func pinEntry(forTable name: String) -> String {
        String(name.map { $0 == "." || $0 == "/" ? "-" : $0 })
    }

    /// Room left in a table for entries added live: LPM tries allocate an entry only when it
    /// is stored, so their limit costs nothing until used; hash maps are allocated whole (and
    /// hold no set entries, which are always in tries).
    public var spareEntries: Int { isHash ? 0 : max(65_536, entries.count) }
}
