import CSystemLibraries

/// Keeps XDP programs in the kernel's XDP dispatcher while they are test-run many times.
///
/// An XDP test run with repeat > 1 adds its program to the dispatcher for the run and takes it out
/// after, waiting for an RCU grace period (~50–90 ms of wall time, no CPU) every call. A program
/// already there (attached natively somewhere) skips both. So each program is attached natively to
/// a veth of its own in a private network namespace, `xdpfw-PID-bench`, that `close()` deletes
/// (with the veths and attachments); one left by a process that was killed is deleted by the next.
public final class XDPDispatcherHold {
    public let namespace: String
    private var links: [XDPAttachment] = []
    private var closed = false

    public init(programs: [BPFProgram]) throws(KernelError) {
        XDPDispatcherHold.removeAbandoned()
        namespace = "xdpfw-\(getpid())-bench"
        do {
            try IPCommand.run(["netns", "add", namespace])
            for index in programs.indices {
                try IPCommand.run(["-n", namespace, "link", "add", "hold\(index)", "type", "veth", "peer", "name", "hold\(index)p"])
            }
            try NetworkNamespace.run(in: namespace) {
                for (index, program) in programs.enumerated() {
                    links.append(try XDPAttachment.attach(program, to: try NetworkInterface(name: "hold\(index)"), mode: .native))
                }
            }
        } catch let error as KernelError {
            close()
            throw error
        } catch {
            close()
            throw .invalidArgument("holding XDP programs in the dispatcher: \(error)")
        }
    }

    deinit { close() }

    /// Detaches the programs and deletes the namespace.
    public func close() {
        guard !closed else { return }
        closed = true
        for link in links { link.close() }
        links = []
        if NetworkNamespace.exists(name: namespace) { _ = try? IPCommand.run(["netns", "del", namespace]) }
    }

    /// Deletes `xdpfw-PID-bench` namespaces whose process has ended.
    static func removeAbandoned() {
        for name in BPFFileSystem.entries(of: NetworkNamespace.directory) {
            let fields = name.split(separator: "-")
            guard fields.count == 3, fields[0] == "xdpfw", fields[2] == "bench", let pid = Int32(fields[1]),
                  pid > 0, pid != getpid(), kill(pid, 0) != 0, xdpfw_errno() == ESRCH else { continue }
            _ = try? IPCommand.run(["netns", "del", name])
        }
    }
}
