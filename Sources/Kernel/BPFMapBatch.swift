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
        guard keySize == 4, type == .array || type == .perCPUArray else {
            throw .invalidArgument("BPF map '\(name)': summing by index needs an array map")
        }
        let words = valueSize / 8
        var sums = [[UInt64]](repeating: [], count: maxEntries)
        try readBatch { keys, values, count, slot in
            let stride = values.count / max(count, 1)
            for entry in 0..<count {
                let index = Int(UInt32(littleEndian: keys.loadUnaligned(fromByteOffset: entry * 4, as: UInt32.self)))
                guard index < maxEntries else { continue }
                var sum = [UInt64](repeating: 0, count: words)
                for cpuOffset in Swift.stride(from: entry * stride, to: (entry + 1) * stride, by: slot) {
                    for word in 0..<words {
                        sum[word] &+= UInt64(littleEndian: values.loadUnaligned(fromByteOffset: cpuOffset + word * 8, as: UInt64.self))
                    }
                }
                sums[index] = sum
            }
        }
        return sums
    }

    /// Reads every entry with as few BPF_MAP_LOOKUP_BATCH calls as the kernel allows, handing each
    /// call's keys (`count` × keySize bytes) and values (`count` × one value buffer) to `body`.
    private func readBatch(_ body: (_ keys: UnsafeRawBufferPointer, _ values: UnsafeRawBufferPointer,
                                    _ count: Int, _ slot: Int) -> Void) throws(KernelError) {
        let (slot, valueBytes) = try valueBufferSize()
        let capacity = maxEntries
        var keys = [UInt8](repeating: 0, count: capacity * keySize)
        var values = [UInt8](repeating: 0, count: capacity * valueBytes)
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
