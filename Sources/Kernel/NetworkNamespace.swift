import CSystemLibraries

/// Named network namespaces (`ip netns add NAME` makes /run/netns/NAME).
///
/// Entering uses setns(2) on the network namespace only, for the calling thread only: the mount
/// namespace stays, so /sys/fs/bpf pins remain visible (`ip netns exec` remounts /sys and hides
/// them). Interface lookups, netlink (XDP/TC attach) and sockets made afterwards on this thread
/// act inside the namespace; processes it starts inherit it.
public enum NetworkNamespace {
    public static let directory = "/run/netns"

    /// Moves the calling thread into the named namespace for good.
    public static func enter(name: String) throws(KernelError) {
        guard !name.isEmpty, !name.contains("/") else { throw .invalidArgument("bad network namespace name '\(name)'") }
        try enter(path: "\(directory)/\(name)")
    }

    /// Moves the calling thread into the namespace behind `path` (e.g. /proc/PID/ns/net).
    public static func enter(path: String) throws(KernelError) {
        let fd = try checkLibc(xdpfw_open_read_only(path), "opening network namespace \(path)", path: path)
        defer { _ = close(fd) }
        if xdpfw_setns_net(fd) != 0 {
            let code = xdpfw_errno()
            let operation = "entering network namespace \(path)"
            throw code == EPERM ? .namespacePermissionDenied(operation: operation) : .from(errno: code, operation: operation)
        }
    }

    /// Runs `body` inside the named namespace and brings the thread back to its namespace after,
    /// even when `body` throws.
    public static func run<Result>(in name: String, _ body: () throws -> Result) throws -> Result {
        let home = try checkLibc(xdpfw_open_read_only("/proc/thread-self/ns/net"), "opening this thread's network namespace")
        defer { _ = close(home) }
        try enter(name: name)
        defer {
            // Failing to return would leave the thread in a test namespace: stop rather than go on.
            if xdpfw_setns_net(home) != 0 { fatalError("cannot return to the original network namespace: \(errnoText(xdpfw_errno()))") }
        }
        return try body()
    }

    /// True when /run/netns/NAME exists.
    public static func exists(name: String) -> Bool { BPFFileSystem.exists("\(directory)/\(name)") }
}
