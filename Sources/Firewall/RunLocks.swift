import Kernel

/// The locks that keep xdpfw runs from interleaving: flock(2) on files under /run/xdpfw, let go
/// with `release()` or when the process ends.
public enum RunLocks {
    /// The lock every change of the rules in force holds (`apply`, `detach`, `set add|del`, a
    /// watching apply's re-apply), so that concurrent runs take turns. When another run holds
    /// it, `waiting` is called once, then the call waits.
    public static func rulesChange(waiting: () -> Void) throws -> LockFile {
        try LockFile.acquire(waiting: waiting)
    }

    /// The lock of the one drop-log reader of `installation`'s hook; nil when another
    /// `xdpfw log` holds it.
    public static func logReader(of installation: HookInstallation) throws -> LockFile? {
        try LockFile.acquireUnlessHeld(at: "/run/xdpfw/log/" + installation.directory.path.replacingOccurrences(of: "/", with: "_"))
    }
}
