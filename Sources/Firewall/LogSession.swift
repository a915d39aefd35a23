import EBPF
import Kernel
import Ruleset

/// The log of one installation switched on: its switch, bucket and ring buffer, opened from the
/// pins; after a re-apply (new maps pinned), those of the new programs.
public struct LogSession {
    public let directory: PinDirectory
    public let switchValue: PacketLogSwitch
    private var switchMap: BPFMap
    private var reader: RingBufferReader

    public init(installation: HookInstallation, switchValue: PacketLogSwitch) throws {
        directory = installation.directory
        self.switchValue = switchValue
        (switchMap, reader) = try LogSession.open(directory, switchValue)
    }

    private static func open(_ directory: PinDirectory, _ value: PacketLogSwitch) throws -> (BPFMap, RingBufferReader) {
        let maps = Ruleset.logMaps
        guard maps.all.allSatisfy({ directory.entries.contains($0.pinEntry) }) else {
            throw CommandFailure("\(directory.path) has no drop log (the rules were applied by an older xdpfw); apply them again")
        }
        let switchMap = try BPFMap.fromPinned(directory.path(of: maps.switchMap))
        let bucket = try BPFMap.fromPinned(directory.path(of: maps.bucketMap))
        defer { bucket.close() }
        let ring = try BPFMap.fromPinned(directory.path(of: maps.ringMap))
        defer { ring.close() }
        let reader = try RingBufferReader(map: ring)
        _ = try reader.take(waitingMilliseconds: 0)   // left by an earlier logger: not live
        try PacketLogTables.refill(bucket)
        try PacketLogTables.set(value, in: switchMap)
        return (switchMap, reader)
    }

    /// The records that came in, waiting a fifth of a second at most.
    public mutating func take() throws -> [PacketLogRecord] {
        let records = try reader.take(waitingMilliseconds: 200).compactMap(PacketLogRecord.init(bytes:))
        let pinned = directory.path(of: Ruleset.logMaps.switchMap)
        guard let current = try? BPFMap.fromPinned(pinned) else {
            throw CommandFailure("the rules at \(directory.interface) \(directory.hook.rawValue) were detached")
        }
        defer { current.close() }
        if current.id != switchMap.id {
            stop()
            (switchMap, reader) = try LogSession.open(directory, switchValue)
        }
        return records
    }

    public func stop() {
        try? PacketLogTables.set(.off, in: switchMap)
    }
}
