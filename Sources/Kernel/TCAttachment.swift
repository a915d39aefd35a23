import CSystemLibraries
import EBPF

/// Which way a TC program sees packets on its interface.
public enum TCDirection: String, Sendable, CaseIterable {
    case ingress, egress

    var attachPoint: bpf_tc_attach_point { self == .ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS }
}

extension Hook {
    /// The TC direction of a TC hook (`.egress` for `.tcEgress`; XDP has none, and gets `.ingress`).
    public var tcDirection: TCDirection { self == .tcEgress ? .egress : .ingress }
}

/// A TC filter xdpfw owns, identified by interface, direction, handle and priority. Filters live in
/// the interface's clsact qdisc and keep running after the process exits, pinned or not.
/// Attaching again with the same handle and priority replaces the program in place (atomically).
public struct TCAttachment: Hashable, Sendable {
    /// xdpfw's filter handle ("xdpf") and priority (1: runs before other filters).
    public static let defaultHandle: UInt32 = 0x7864_7066
    public static let defaultPriority: UInt32 = 1

    public let interface: NetworkInterface
    public let direction: TCDirection
    public let handle: UInt32
    public let priority: UInt32

    public init(interface: NetworkInterface, direction: TCDirection,
                handle: UInt32 = TCAttachment.defaultHandle, priority: UInt32 = TCAttachment.defaultPriority) {
        self.interface = interface
        self.direction = direction
        self.handle = handle
        self.priority = priority
    }

    /// Creates the clsact qdisc on `interface` unless it exists. Returns true when this call created
    /// it (so only then should `destroyClsact` remove it later).
    @discardableResult
    public static func createClsact(on interface: NetworkInterface) throws(KernelError) -> Bool {
        _ = libbpfSilenced
        let result = try withHook(interface, BPF_TC_INGRESS) { bpf_tc_hook_create($0) }
        if result == -EEXIST { return false }
        try checkTC(result, "creating the clsact qdisc on \(interface)", interface)
        return true
    }

    /// Removes the clsact qdisc and every filter in it, ours or not.
    public static func destroyClsact(on interface: NetworkInterface) throws(KernelError) {
        let both = bpf_tc_attach_point(BPF_TC_INGRESS.rawValue | BPF_TC_EGRESS.rawValue)
        let result = try withHook(interface, both) { bpf_tc_hook_destroy($0) }
        if result == -ENOENT || result == -EINVAL { return }
        try checkTC(result, "removing the clsact qdisc from \(interface)", interface)
    }

    /// Attaches `program` (a `Hook.Kind.tc` program) as xdpfw's filter, replacing our previous program in place.
    /// The clsact qdisc must exist (`createClsact`).
    public func attach(_ program: BPFProgram) throws(KernelError) {
        let result = try withOptions { hook, opts in
            opts.pointee.prog_fd = program.fd
            opts.pointee.flags = UInt32(BPF_TC_F_REPLACE.rawValue)
            return bpf_tc_attach(hook, opts)
        }
        try TCAttachment.checkTC(result, "attaching the TC \(direction.rawValue) program to \(interface)", interface)
    }

    /// The id of the program in xdpfw's filter, nil when the filter is absent.
    public func programID() throws(KernelError) -> UInt32? {
        var id: UInt32 = 0
        let result = try withOptions { hook, opts in
            let result = bpf_tc_query(hook, opts)
            id = opts.pointee.prog_id
            return result
        }
        if result == -ENOENT || result == -EINVAL { return nil }
        try TCAttachment.checkTC(result, "querying TC \(direction.rawValue) on \(interface)", interface)
        return id
    }

    /// Removes xdpfw's filter; returns false when it was not there. Leaves the qdisc.
    @discardableResult
    public func detach() throws(KernelError) -> Bool {
        let result = try withOptions { hook, opts in bpf_tc_detach(hook, opts) }
        if result == -ENOENT || result == -EINVAL { return false }
        try TCAttachment.checkTC(result, "detaching TC \(direction.rawValue) from \(interface)", interface)
        return true
    }

    private func withOptions(_ body: (UnsafeMutablePointer<bpf_tc_hook>, UnsafeMutablePointer<bpf_tc_opts>) -> Int32) throws(KernelError) -> Int32 {
        _ = libbpfSilenced
        return try TCAttachment.withHook(interface, direction.attachPoint) { (hook) throws(KernelError) -> Int32 in
            try withZeroedOptions(bpf_tc_opts.self, size: \.sz) { opts in
                opts.pointee.handle = handle
                opts.pointee.priority = priority
                return body(hook, opts)
            }
        }
    }

    private static func withHook<Result>(_ interface: NetworkInterface, _ point: bpf_tc_attach_point,
                                         _ body: (UnsafeMutablePointer<bpf_tc_hook>) throws(KernelError) -> Result) throws(KernelError) -> Result {
        try withZeroedOptions(bpf_tc_hook.self, size: \.sz) { (hook) throws(KernelError) -> Result in
            hook.pointee.ifindex = Int32(bitPattern: interface.index)
            hook.pointee.attach_point = point
            return try body(hook)
        }
    }

    private static func checkTC(_ result: Int32, _ operation: String, _ interface: NetworkInterface) throws(KernelError) {
        if result == -ENODEV { throw .unknownInterface(interface.name) }
        try check(result, operation)
    }
}
