import EBPF
import Kernel
import Ruleset

/// One hook's part of `xdpfw set add|del`: the planned change written into its pinned lookup
/// tables, and the pinned ruleset text replaced (staged and renamed over the old, so `stats`,
/// `status` and `set list` name what runs), with what it takes to undo it.
public final class LiveSetWrite {
    public let installation: HookInstallation
    public let change: LiveSetChange
    private let oldText: String
    /// The keys written so far and what each held before (nil: absent), to undo.
    private var previous: [(map: BPFMap, key: [UInt8], value: [UInt8]?)] = []
    private var maps: [MapName: BPFMap] = [:]

    /// Opens the tables the change touches and checks there is room in each; changes nothing.
    public init(_ installation: HookInstallation, _ change: LiveSetChange, oldText: String) throws {
        self.installation = installation
        self.change = change
        self.oldText = oldText
        let place = "\(installation.interface) \(installation.hook.rawValue)"
        do {
            for name in Set(change.updates.keys).union(change.deletions.keys).sorted() {
                let entry = name.pinEntry
                guard let map = try? installation.map(name) else {
                    throw CommandFailure("\(place): the lookup table \(entry) is not pinned (rules applied by an older xdpfw?): "
                                         + "apply the rules file again")
                }
                maps[name] = map
                let needed = change.tableSizes[name] ?? 0
                if needed > map.maxEntries {
                    throw CommandFailure("\(place): the lookup table \(entry) holds at most \(map.maxEntries) entries and would need "
                                         + "\(needed): re-apply the rules file to grow it")
                }
            }
        } catch {
            close()
            throw error
        }
    }

    /// Writes the new entries (added and changed first, then deletions) and the new text.
    /// A failure undoes what was written.
    public func write() throws {
        do {
            for (name, updates) in change.updates.sorted(by: { $0.key < $1.key }) {
                let map = maps[name]!
                for update in updates {
                    previous.append((map, update.key, update.previous))
                    try map.update(key: update.key, value: update.value)
                }
            }
            for (name, deletions) in change.deletions.sorted(by: { $0.key < $1.key }) {
                let map = maps[name]!
                for deletion in deletions {
                    previous.append((map, deletion.key, deletion.previous))
                    _ = try map.delete(key: deletion.key)
                }
            }
            try PinnedText.write(change.text, at: installation.directory.path(of: PinDirectory.Entry.ruleset))
        } catch {
            undo()
            throw error
        }
    }

    /// Puts the tables and the text back as they were (best effort, newest first).
    public func undo() {
        for (map, key, value) in previous.reversed() {
            if let value { try? map.update(key: key, value: value) } else { _ = try? map.delete(key: key) }
        }
        previous = []
        try? PinnedText.write(oldText, at: installation.directory.path(of: PinDirectory.Entry.ruleset))
    }

    /// Writes every hook's change, or none: a failure undoes those already written (newest first).
    public static func writeAll(_ writes: [LiveSetWrite]) throws {
        var written: [LiveSetWrite] = []
        do {
            for write in writes {
                try write.write()
                written.append(write)
            }
        } catch {
            written.reversed().forEach { $0.undo() }
            throw error
        }
    }

    public func close() {
        maps.values.forEach { $0.close() }
        maps = [:]
    }
}
