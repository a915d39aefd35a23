import Glibc

/// Changes to the entries of some directories, from inotify: a file written and closed, created,
/// deleted, or renamed in or out, which covers an editor's write-and-rename and the `..data`
/// symlink swap of a Kubernetes ConfigMap volume (a rename over a directory entry, where a
/// watch on the file itself would go on watching the old file).
public final class DirectoryWatch {
    private let descriptor: Int32
    private var watched: Set<String> = []

    public init() throws {
        descriptor = inotify_init1(O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw KernelError.system(operation: "inotify_init1", errno: errno) }
    }

    deinit { Glibc.close(descriptor) }

    /// Watches `directory` (once; watching it again changes nothing).
    public func watch(_ directory: String) throws {
        guard !watched.contains(directory) else { return }
        let events = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_CREATE)
            | UInt32(IN_DELETE) | UInt32(IN_ATTRIB) | UInt32(IN_ONLYDIR)
        guard inotify_add_watch(descriptor, directory, events) >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw KernelError.notFound(path: directory) }
            throw KernelError.system(operation: "inotify_add_watch \(directory)", errno: code)
        }
        watched.insert(directory)
    }

    /// Waits up to `milliseconds` for a change and reads every event queued. True when something
    /// changed; false on time-out or when a signal interrupted the wait (the caller checks why).
    public func waitForChange(milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var changed = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            changed = true
            // A directory that went (an old ConfigMap version) is dropped by the kernel: forget it too.
            forgetRemovedWatches(in: buffer[..<count])
        }
        return changed
    }

    /// Drops the directories whose watches the kernel removed (IN_IGNORED), so watching the same
    /// path again after it is re-created adds a new watch. Events carry watch numbers, not paths,
    /// so any IN_IGNORED empties the list: re-adding a live watch is harmless.
    private func forgetRemovedWatches(in events: ArraySlice<UInt8>) {
        var offset = events.startIndex
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= events.endIndex {
            let mask = events[offset + 4 ..< offset + 8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let nameLength = events[offset + 12 ..< offset + 16].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if mask & UInt32(IN_IGNORED) != 0 { watched.removeAll() }
            offset += header + Int(nameLength)
        }
    }
}
