import Foundation
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
        // Arrays are filled through a shared mapping of their values: the classifier's vector
        // table of 10,000 prefix rules is some 60 MiB, which a batch update copies value by value
        // (two thirds of a `check`'s kernel time). The program reads a mappable array the same way.
        let array = table.arrayLength != nil
        let flags = array ? UInt32(BPF_F_MMAPABLE) : table.isHash && spare > 0 ? UInt32(BPF_F_NO_PREALLOC) : 0
        let map = try BPFMap.create(type: array ? .array : table.isHash ? .hash : .lpmTrie, keySize: table.keySize,
                                    valueSize: table.valueSize,
                                    maxEntries: table.arrayLength ?? max(table.entries.count + spare, 1), name: "xdpfw_lookup",
                                    flags: flags)
        do {
            if array { try map.writeMapped(table.entries) } else { try map.updateBatch(table.entries) }
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

extension BPFMap {
    /// Writes entries of an array created with BPF_F_MMAPABLE through a shared mapping of its
    /// values (keys: u32 indexes, little-endian): one copy per value and no system call per entry.
    func writeMapped(_ entries: [(key: [UInt8], value: [UInt8])]) throws(KernelError) {
        guard type == .array, keySize == 4, !entries.isEmpty else {
            try updateBatch(entries)
            return
        }
        // The kernel keeps each value in a slot of its size rounded up to 8 bytes.
        let slot = (valueSize + 7) & ~7
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = (maxEntries * slot + page - 1) / page * page
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw KernelError.from(errno: xdpfw_errno(), operation: "mapping BPF map '\(name)' into memory", path: nil)
        }
        defer { munmap(base, length) }
        for entry in entries {
            try checkKey(entry.key)
            try checkValue(entry.value)
            let index = entry.key.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
            guard index < maxEntries else { throw .invalidArgument("BPF map '\(name)': index \(index) past its \(maxEntries) entries") }
            entry.value.withUnsafeBytes { value in (base + index * slot).copyMemory(from: value.baseAddress!, byteCount: valueSize) }
        }
    }
}
