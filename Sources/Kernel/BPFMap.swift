import Foundation
import CSystemLibraries

/// The map types xdpfw uses.
public enum BPFMapType: Sendable, Equatable {
    case array
    case perCPUArray
    case hash
    case perCPUHash
    /// Longest-prefix-match trie: keys are a 32-bit prefix length followed by the address bytes.
    case lpmTrie
    /// Programs for `bpf_tail_call`; values are program file descriptors (ids when read).
    case programArray
    /// A ring buffer shared with user space (`RingBufferReader`): no keys or values, its size
    /// in bytes (a power of two, whole pages) as the entry count.
    case ringBuffer

    var kernelType: bpf_map_type {
        switch self {
        case .array: return BPF_MAP_TYPE_ARRAY
        case .perCPUArray: return BPF_MAP_TYPE_PERCPU_ARRAY
        case .hash: return BPF_MAP_TYPE_HASH
        case .perCPUHash: return BPF_MAP_TYPE_PERCPU_HASH
        case .lpmTrie: return BPF_MAP_TYPE_LPM_TRIE
        case .programArray: return BPF_MAP_TYPE_PROG_ARRAY
        case .ringBuffer: return BPF_MAP_TYPE_RINGBUF
        }
    }

    init?(kernelType: UInt32) {
        switch kernelType {
        case BPF_MAP_TYPE_ARRAY.rawValue: self = .array
        case BPF_MAP_TYPE_PERCPU_ARRAY.rawValue: self = .perCPUArray
        case BPF_MAP_TYPE_HASH.rawValue: self = .hash
        case BPF_MAP_TYPE_PERCPU_HASH.rawValue: self = .perCPUHash
        case BPF_MAP_TYPE_LPM_TRIE.rawValue: self = .lpmTrie
        case BPF_MAP_TYPE_PROG_ARRAY.rawValue: self = .programArray
        case BPF_MAP_TYPE_RINGBUF.rawValue: self = .ringBuffer
        default: return nil
        }
    }

    public var isPerCPU: Bool { self == .perCPUArray || self == .perCPUHash }
}

/// Flags for `BPFMap.update`.
public enum BPFUpdateMode: Sendable {
    case any, createOnly, existingOnly
    var flags: UInt64 {
        switch self {
        case .any: return UInt64(BPF_ANY)
        case .createOnly: return UInt64(BPF_NOEXIST)
        case .existingOnly: return UInt64(BPF_EXIST)
        }
    }
}

/// A kernel map. Keys and values are raw bytes in the layout the program uses (little-endian
/// integers on this machine). The file descriptor is closed on `close()` or deinit; a pinned map
/// stays in the kernel after that.
public final class BPFMap: @unchecked Sendable {
    let descriptor: OwnedDescriptor
    public let type: BPFMapType
    public let keySize: Int
    public let valueSize: Int
    public let maxEntries: Int
    public let name: String
    public let id: UInt32

    public var fd: Int32 { descriptor.raw }

    init(fd: Int32) throws(KernelError) {
        descriptor = OwnedDescriptor(fd)
        var info = bpf_map_info()
        var length = UInt32(MemoryLayout<bpf_map_info>.size)
        try check(bpf_obj_get_info_by_fd(fd, &info, &length), "reading BPF map info")
        guard let type = BPFMapType(kernelType: info.type) else {
            throw .invalidArgument("BPF map '\(cString(tuple: info.name))' has type \(info.type), which xdpfw does not use")
        }
        self.type = type
        keySize = Int(info.key_size)
        valueSize = Int(info.value_size)
        maxEntries = Int(info.max_entries)
        name = cString(tuple: info.name)
        id = info.id
    }

    public func close() { descriptor.close() }

    /// Creates a map. `flags` are `BPF_F_*` map flags; LPM tries always get BPF_F_NO_PREALLOC,
    /// which the kernel requires for them.
    public static func create(type: BPFMapType, keySize: Int, valueSize: Int, maxEntries: Int,
                              name: String, flags: UInt32 = 0) throws(KernelError) -> BPFMap {
        _ = libbpfSilenced
        let keyless = type == .ringBuffer
        guard keyless ? keySize == 0 && valueSize == 0 : keySize > 0 && valueSize > 0, maxEntries > 0,
              keySize <= Int(UInt32.max), valueSize <= Int(UInt32.max), maxEntries <= Int(UInt32.max) else {
            throw .invalidArgument("BPF map '\(name)': key size, value size and entry count must be positive")
        }
        let kernelName = kernelObjectName(name)
        let mapFlags = type == .lpmTrie ? flags | UInt32(BPF_F_NO_PREALLOC) : flags
        let fd = try withZeroedOptions(bpf_map_create_opts.self, size: \.sz) { (opts) throws(KernelError) -> Int32 in
            opts.pointee.map_flags = mapFlags
            return try check(bpf_map_create(type.kernelType, kernelName, UInt32(keySize), UInt32(valueSize),
                                            UInt32(maxEntries), opts),
                             "creating BPF map '\(kernelName)'")
        }
        return try BPFMap(fd: fd)
    }

    /// Opens a pinned map.
    public static func fromPinned(_ path: String) throws(KernelError) -> BPFMap {
        try BPFMap(fd: try openPinned(path))
    }

    /// Opens a map by kernel id (e.g. one of `BPFProgramInfo.mapIDs`).
    public static func fromID(_ id: UInt32) throws(KernelError) -> BPFMap {
        try BPFMap(fd: try check(bpf_map_get_fd_by_id(id), "opening BPF map id \(id)"))
    }

    public func pin(at path: String) throws(KernelError) { try pinObject(fd: fd, at: path) }

    /// The memory the kernel charges for this map (the `memlock:` line of its descriptor's
    /// fdinfo: keys, values, per-CPU copies and the structure's own overhead), or nil when the
    /// kernel does not say.
    public var memoryBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("memlock:") {
            return Int(line.dropFirst("memlock:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// CPUs the kernel may ever bring up: per-CPU maps hold one value slot for each.
    public static func possibleCPUCount() throws(KernelError) -> Int {
        let count = libbpf_num_possible_cpus()
        if count <= 0 { throw .system(operation: "counting possible CPUs", errno: -count) }
        return Int(count)
    }

    /// Bytes one lookup or update moves: per-CPU maps hold one 8-byte-aligned slot per possible CPU.
    func valueBufferSize() throws(KernelError) -> (slot: Int, total: Int) {
        guard type.isPerCPU else { return (valueSize, valueSize) }
        let slot = (valueSize + 7) & ~7
        return (slot, slot * (try BPFMap.possibleCPUCount()))
    }

    func checkKey(_ key: [UInt8]) throws(KernelError) {
        guard key.count == keySize else {
            throw .invalidArgument("BPF map '\(name)': key has \(key.count) bytes, the map wants \(keySize)")
        }
    }

    func checkValue(_ value: [UInt8]) throws(KernelError) {
        guard value.count == valueSize else {
            throw .invalidArgument("BPF map '\(name)': value has \(value.count) bytes, the map wants \(valueSize)")
        }
    }

    /// The value under `key`, or nil when there is none. Per-CPU maps: use `lookupPerCPU`.
    public func lookup(key: [UInt8]) throws(KernelError) -> [UInt8]? {
        guard let values = try lookupPerCPU(key: key) else { return nil }
        return type.isPerCPU ? values.flatMap { $0 } : values[0]
    }

    /// One value per possible CPU (a single element for maps that are not per-CPU).
    public func lookupPerCPU(key: [UInt8]) throws(KernelError) -> [[UInt8]]? {
        try checkKey(key)
        let (slot, total) = try valueBufferSize()
        var buffer = [UInt8](repeating: 0, count: total)
        let result = key.withUnsafeBytes { k in
            buffer.withUnsafeMutableBytes { v in bpf_map_lookup_elem(fd, k.baseAddress!, v.baseAddress!) }
        }
        if result == -ENOENT { return nil }
        try check(result, "looking up a key in BPF map '\(name)'")
        return stride(from: 0, to: total, by: slot).map { Array(buffer[$0 ..< $0 + valueSize]) }
    }

    /// Stores `value`; for per-CPU maps the same value goes to every CPU.
    public func update(key: [UInt8], value: [UInt8], mode: BPFUpdateMode = .any) throws(KernelError) {
        let copies = type.isPerCPU ? try BPFMap.possibleCPUCount() : 1
        try update(key: key, perCPUValues: Array(repeating: value, count: copies), mode: mode)
    }

    /// Stores one value per possible CPU (per-CPU maps) or exactly one value.
    public func update(key: [UInt8], perCPUValues values: [[UInt8]], mode: BPFUpdateMode = .any) throws(KernelError) {
        try checkKey(key)
        let (slot, total) = try valueBufferSize()
        guard values.count == total / slot else {
            throw .invalidArgument("BPF map '\(name)': \(values.count) values given, the map wants \(total / slot)")
        }
        var buffer = [UInt8](repeating: 0, count: total)
        for (cpu, value) in values.enumerated() {
            try checkValue(value)
            buffer.replaceSubrange(cpu * slot ..< cpu * slot + valueSize, with: value)
        }
        let result = key.withUnsafeBytes { k in
            buffer.withUnsafeBytes { v in bpf_map_update_elem(fd, k.baseAddress!, v.baseAddress!, mode.flags) }
        }
        try check(result, "updating BPF map '\(name)'")
    }

    /// Stores many entries of a map that is not per-CPU in one system call where the map type
    /// allows (BPF_MAP_UPDATE_BATCH), else one by one.
    public func updateBatch(_ entries: [(key: [UInt8], value: [UInt8])]) throws(KernelError) {
        guard !type.isPerCPU, !entries.isEmpty else {
            for entry in entries { try update(key: entry.key, value: entry.value) }
            return
        }
        var keys: [UInt8] = [], values: [UInt8] = []
        keys.reserveCapacity(entries.count * keySize)
        values.reserveCapacity(entries.count * valueSize)
        for entry in entries {
            try checkKey(entry.key)
            try checkValue(entry.value)
            keys += entry.key
            values += entry.value
        }
        var count = UInt32(entries.count)
        let result = keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in bpf_map_update_batch(fd, k.baseAddress!, v.baseAddress!, &count, nil) }
        }
        if result == -EINVAL || result == -ENOTSUP || result == -EOPNOTSUPP || result == -524 /* ENOTSUPP, the kernel's own */ {
            for entry in entries { try update(key: entry.key, value: entry.value) }   // no batch for this map type
            return
        }
        try check(result, "updating BPF map '\(name)' (\(entries.count) entries at once)")
    }

    /// Removes `key`; returns false when it was not there. Array maps cannot delete (EINVAL).
    @discardableResult
    public func delete(key: [UInt8]) throws(KernelError) -> Bool {
        try checkKey(key)
        let result = key.withUnsafeBytes { bpf_map_delete_elem(fd, $0.baseAddress!) }
        if result == -ENOENT { return false }
        try check(result, "deleting a key from BPF map '\(name)'")
        return true
    }

    /// Every key in the map, in the kernel's iteration order.
    public func keys() throws(KernelError) -> [[UInt8]] {
        var keys = [[UInt8]]()
        var next = [UInt8](repeating: 0, count: keySize)
        var previous: [UInt8]? = nil
        while keys.count <= maxEntries {
            let result: Int32
            if let previous {
                result = previous.withUnsafeBytes { p in
                    next.withUnsafeMutableBytes { n in bpf_map_get_next_key(fd, p.baseAddress!, n.baseAddress!) }
                }
            } else {
                result = next.withUnsafeMutableBytes { n in bpf_map_get_next_key(fd, nil, n.baseAddress!) }
            }
            if result == -ENOENT { break }
            try check(result, "listing keys of BPF map '\(name)'")
            keys.append(next)
            previous = next
        }
        return keys
    }
}

extension BPFMap {
    /// Little-endian bytes of an array index, the key of array maps.
    public static func key(index: UInt32) -> [UInt8] { withUnsafeBytes(of: index.littleEndian) { Array($0) } }

    /// For per-CPU counters: the sum over CPUs of each little-endian UInt64 in the value
    /// (e.g. a value of {packets, bytes} gives two sums). Nil when the key is absent.
    public func sumUInt64(key: [UInt8]) throws(KernelError) -> [UInt64]? {
        guard let values = try lookupPerCPU(key: key) else { return nil }
        var sums = [UInt64](repeating: 0, count: valueSize / 8)
        for value in values {
            for i in sums.indices {
                var word: UInt64 = 0
                for b in 0..<8 { word |= UInt64(value[i * 8 + b]) << (8 * UInt64(b)) }
                sums[i] &+= word
            }
        }
        return sums
    }
}
