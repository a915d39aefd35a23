import EBPF

/// The drop log's maps (`PacketLogEmitter`): the switch a logger flips, the per-CPU token
/// buckets, and the ring buffer the records go to. Created with a ruleset's programs and
/// pinned beside its counters; `detach` removes them with the rest of the pin directory.
public enum PacketLogTables {
    /// The ring buffer's size: 256 KiB, about 900 records of a full 256-byte frame.
    public static let ringBytes = 256 * 1024

    /// The three maps, by name (`maps`), switched off.
    public static func create(_ maps: PacketLogMaps) throws(KernelError) -> [MapName: BPFMap] {
        var created: [MapName: BPFMap] = [:]
        do {
            created[maps.switchMap] = try BPFMap.create(type: .array, keySize: 4, valueSize: PacketLogSwitch.size,
                                                        maxEntries: 1, name: "xdpfw_log_switch")
            created[maps.bucketMap] = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: PacketLogBucket.size,
                                                        maxEntries: 1, name: "xdpfw_log_bucket")
            created[maps.ringMap] = try BPFMap.create(type: .ringBuffer, keySize: 0, valueSize: 0,
                                                      maxEntries: ringBytes, name: "xdpfw_log_ring")
        } catch {
            created.values.forEach { $0.close() }
            throw error
        }
        return created
    }

    /// Writes the switch: what the programs log from now on (`.off`: nothing).
    public static func set(_ value: PacketLogSwitch, in switchMap: BPFMap) throws(KernelError) {
        try switchMap.update(key: BPFMap.key(index: 0), value: value.bytes)
    }

    /// Empties the buckets, so a new logger starts with a full second's burst on every CPU.
    public static func refill(_ bucketMap: BPFMap) throws(KernelError) {
        try bucketMap.update(key: BPFMap.key(index: 0), value: [UInt8](repeating: 0, count: PacketLogBucket.size))
    }
}
