import Foundation

/// An exclusive advisory lock (flock(2)) on a file, held until `release()` or the process ends,
/// so that concurrent `xdpfw apply` and `detach` runs take turns instead of interleaving.
public final class LockFile: @unchecked Sendable {
    public static let defaultPath = "/run/xdpfw/lock"

    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { release() }

    /// Takes the lock at `path`, creating the file and its directory when needed. When another
    /// process holds it, calls `waiting` once and then waits for it.
    public static func acquire(at path: String = defaultPath, waiting: () -> Void = {}) throws(KernelError) -> LockFile {
        try acquire(at: path, waiting: waiting, waits: true)
    }

    private static func acquire(at path: String, waiting: () -> Void, waits: Bool) throws(KernelError) -> LockFile {
        let directory = (path as NSString).deletingLastPathComponent
        var prefix = ""
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .from(errno: errno, operation: "creating \(prefix)", path: prefix)
            }
        }
        let fd = Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 { throw .from(errno: errno, operation: "opening lock file \(path)", path: path) }
        let lock = LockFile(fd: fd)
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return lock }
        guard errno == EWOULDBLOCK else { throw .from(errno: errno, operation: "locking \(path)") }
        waiting()
        guard waits else { return lock }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .from(errno: errno, operation: "locking \(path)") }
        }
        return lock
    }

    /// Takes the lock at `path` when no other process holds it; nil when one does.
    public static func acquireUnlessHeld(at path: String) throws(KernelError) -> LockFile? {
        var held = false
        let lock = try acquire(at: path, waiting: { held = true }, waits: false)
        return held ? nil : lock
    }

    /// Lets the next process in.
    public func release() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
    }
}
