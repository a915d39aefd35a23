import CSystemLibraries
import EBPF
import Foundation

/// `/sys/fs/bpf/xdpfw/<iface>/<hook>/`: everything xdpfw leaves behind for one hook of one
/// interface, so `stats`, `status` and `detach` work after the applying process is gone.
public struct PinDirectory: Hashable, Sendable {
    public static let defaultRoot = BPFFileSystem.mountPoint + "/xdpfw"

    /// Entry names xdpfw uses inside the directory.
    public enum Entry {
        /// The loaded program.
        public static let program = "program"
        /// The XDP bpf_link (TC filters live in the qdisc, they have no link).
        public static let link = "link"
        /// The ruleset text (`PinnedText`).
        public static let ruleset = "ruleset"
        /// The attachment record (`PinnedText`, `key=value` lines): what xdpfw must undo on detach.
        public static let attachment = "attachment"
        // The maps are pinned under their names' `MapName.pinEntry`: the counters, the program
        // array of a chained ruleset (its entries are flushed when no pin or descriptor holds it
        // any more), the lookup and classifier tables, the drop log's maps.
    }

    public let root: String
    public let interface: String
    public let hook: Hook

    public init(interface: String, hook: Hook, root: String = PinDirectory.defaultRoot) {
        self.root = root
        self.interface = interface
        self.hook = hook
    }

    public var path: String { "\(root)/\(PinDirectory.escape(interface))/\(hook.rawValue)" }
    public func path(of entry: String) -> String { "\(path)/\(entry)" }
    /// Where `map` is pinned.
    public func path(of map: MapName) -> String { path(of: map.pinEntry) }
    public var exists: Bool { BPFFileSystem.exists(path) }
    public var entries: [String] { BPFFileSystem.entries(of: path) }

    /// Mounts bpffs when needed and creates the directory.
    public func create() throws(KernelError) {
        guard !interface.isEmpty, !interface.contains("/"), interface != ".", interface != ".." else {
            throw .unknownInterface(interface)
        }
        try BPFFileSystem.makeDirectory(path)
    }

    /// Unpins everything in the directory and removes it (and the interface directory when empty).
    public func remove() throws(KernelError) {
        for entry in entries { try BPFFileSystem.unpin(path(of: entry)) }
        for directory in [path, "\(root)/\(PinDirectory.escape(interface))"] {
            try PinDirectory.removeIfEmpty(directory)
        }
    }

    /// Removes `directory` when it holds nothing (rmdir: never its contents); a directory that
    /// is not empty or not there is left alone.
    public static func removeIfEmpty(_ directory: String) throws(KernelError) {
        guard BPFFileSystem.exists(directory) else { return }
        if rmdir(directory) != 0 && xdpfw_errno() != ENOTEMPTY && xdpfw_errno() != ENOENT {
            throw .from(errno: xdpfw_errno(), operation: "removing pin directory \(directory)")
        }
    }

    /// Where the pins of a named network namespace live: /sys/fs/bpf/xdpfw/netns/NAME, escaped
    /// as interface names are (interface names repeat across namespaces; bpffs is shared by all).
    public static func root(forNamespace name: String) -> String {
        defaultRoot + "/netns/" + escape(name)
    }

    /// Unpins every hook directory under `root` and removes the emptied directories, `root`
    /// included (a directory that still holds something else stays).
    public static func removeAll(root: String) {
        for directory in all(root: root) { try? directory.remove() }
        try? removeIfEmpty(root)
    }

    /// Every hook directory under `root`, sorted by interface then hook.
    public static func all(root: String = PinDirectory.defaultRoot) -> [PinDirectory] {
        BPFFileSystem.entries(of: root).flatMap { name in
            Hook.allCases.compactMap { hook in
                let directory = PinDirectory(interface: unescape(name), hook: hook, root: root)
                return directory.exists ? directory : nil
            }
        }
    }

    /// bpffs refuses names containing '.', which interface names may have (eth0.100): write it
    /// as %2E, and '%' as %25.
    static func escape(_ interface: String) -> String {
        interface.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ".", with: "%2E")
    }

    static func unescape(_ name: String) -> String {
        name.replacingOccurrences(of: "%2E", with: ".").replacingOccurrences(of: "%25", with: "%")
    }

    /// Reads the `key=value` lines pinned under `entry` (empty when absent).
    public func record(_ entry: String = Entry.attachment) throws(KernelError) -> [String: String] {
        guard BPFFileSystem.exists(path(of: entry)) else { return [:] }
        var record = [String: String]()
        for line in try PinnedText.read(at: path(of: entry)).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            record[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return record
    }

    public func writeRecord(_ record: [String: String], _ entry: String = Entry.attachment) throws(KernelError) {
        let text = record.keys.sorted().map { "\($0)=\(record[$0]!)\n" }.joined()
        try PinnedText.write(text, at: path(of: entry))
    }
}
