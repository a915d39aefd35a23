import CSystemLibraries

/// Reading a whole map with BPF_MAP_LOOKUP_BATCH: one syscall for up to `maxEntries` entries
/// instead of one lookup per key, which is what makes reading every counter after every test run
/// affordable.
extension BPFMap {
    /// Every entry, in the kernel's iteration order, with one value per possible CPU (a single
    /// element for maps that are not per-CPU), as `lookupPerCPU(key:)` returns them.
    public func lookupBatchPerCPU() throws(KernelError) -> [(key: [UInt8], values: [[UInt8]])] {
        var entries: [(key: [UInt8], values: [[UInt8]])] = []
        try readBatch { keys, values, count, slot in
            let stride = values.count / max(count, 1)
            for entry in 0..<count {
                let key = Array(keys[entry * keySize ..< (entry + 1) * keySize])
                let perCPU = Swift.stride(from: entry * stride, to: (entry + 1) * stride, by: slot).map {
                    Array(values[$0 ..< $0 + valueSize])
                }
                entries.append((key, perCPU))
            }
        }
        return entries
    }

    /// For per-CPU arrays of counters: `sumUInt64(key:)` of every index at once, element `i` for
    /// key `i` (entries the kernel does not return stay empty, as an absent key's `nil` would).
    public func sumUInt64AllIndices() throws(KernelError) -> [[UInt64]] {
        let words = valueSize / 8
        let (sums, present) = try sumWords(0..<words)
        return (0..<maxEntries).map { present[$0] ? Array(sums[$0 * words ..< ($0 + 1) * words]) : [] }
    }

    /// One little-endian UInt64 of every index's value (at byte `word * 8`), summed over CPUs:
    /// e.g. the packet count of every counter slot, element `i` for key `i` (0 when absent).
    /// The cheapest way to see which counters moved.
    public func sumUInt64AllIndices(word: Int) throws(KernelError) -> [UInt64] {
        guard word >= 0, word < valueSize / 8 else {
            throw .invalidArgument("BPF map '\(name)': no 64-bit word \(word) in values of \(valueSize) bytes")
        }
        return try sumWords(word ..< word + 1).sums
    }

    /// Sums over CPUs of the 64-bit words `words` of every index, index-major, and which indices
    /// the kernel returned.
    private func sumWords(_ words: Range<Int>) throws(KernelError) -> (sums: [UInt64], present: [Bool]) {
        guard keySize == 4, type == .array || type == .perCPUArray, try valueBufferSize().slot % 8 == 0 else {
            throw .invalidArgument("BPF map '\(name)': summing by index needs an array map of 64-bit words")
        }
        let width = words.count
        let sums = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: maxEntries * width)
        defer { sums.deallocate() }
        sums.initialize(repeating: 0)
        var present = [Bool](repeating: false, count: maxEntries)
        try readBatch { keys, values, count, slot in
            // Typed pointers and plain loops: this runs once per packet in `xdpfw test`.
            let keyWords = keys.baseAddress!.assumingMemoryBound(to: UInt32.self)
            let valueWords = values.baseAddress!.assumingMemoryBound(to: UInt64.self)
            let entryWords = values.count / 8 / max(count, 1)
            let slotWords = slot / 8
            var entry = 0
            while entry < count {
                let index = Int(UInt32(littleEndian: keyWords[entry]))
                if index < maxEntries {
                    present[index] = true
                    var cpu = entry * entryWords
                    while cpu < (entry + 1) * entryWords {
                        var word = 0
                        while word < width {
                            sums[index * width + word] &+= UInt64(littleEndian: valueWords[cpu + words.lowerBound + word])
                            word += 1
                        }
                        cpu += slotWords
                    }
                }
                entry += 1
            }
        }
        return (Array(sums), present)
    }

    /// Reads every entry with as few BPF_MAP_LOOKUP_BATCH calls as the kernel allows, handing each
    /// call's keys (`count` × keySize bytes) and values (`count` × one value buffer) to `body`.
    private func readBatch(_ body: (_ keys: UnsafeRawBufferPointer, _ values: UnsafeRawBufferPointer,
                                    _ count: Int, _ slot: Int) -> Void) throws(KernelError) {
        let (slot, valueBytes) = try valueBufferSize()
        let capacity = maxEntries
        // Word-typed buffers, so that readers may view keys of 4 bytes as UInt32 and values whose
        // size is a multiple of 8 as UInt64.
        var keys = [UInt32](repeating: 0, count: (capacity * keySize + 3) / 4)
        var values = [UInt64](repeating: 0, count: (capacity * valueBytes + 7) / 8)
        // The batch token is a key for array maps and a bucket number (u32) for hash maps.
        let tokenSize = max(keySize, 8)
        var inToken = [UInt8](repeating: 0, count: tokenSize)
        var outToken = [UInt8](repeating: 0, count: tokenSize)
        var started = false
        var read = 0
        while read < capacity {
            var count = UInt32(capacity - read)
            let result = keys.withUnsafeMutableBytes { k in
                values.withUnsafeMutableBytes { v in
                    inToken.withUnsafeMutableBytes { i in
                        outToken.withUnsafeMutableBytes { o in
                            bpf_map_lookup_batch(fd, started ? i.baseAddress! : nil, o.baseAddress!,
                                                 k.baseAddress!, v.baseAddress!, &count, nil)
                        }
                    }
                }
            }
            // ENOENT: the iteration reached the end; `count` still says how many came with it.
            if result < 0 && result != -ENOENT { try check(result, "reading BPF map '\(name)' in batches") }
            let got = min(Int(count), capacity - read)
            if got > 0 {
                keys.withUnsafeBytes { k in
                    values.withUnsafeBytes { v in
                        body(UnsafeRawBufferPointer(rebasing: k[0 ..< got * keySize]),
                                 UnsafeRawBufferPointer(rebasing: v[0 ..< got * valueBytes]), got, slot)
                    }
                }
            }
            read += got
            if result == -ENOENT || got == 0 { break }
            inToken = outToken
            started = true
        }
    }
}
