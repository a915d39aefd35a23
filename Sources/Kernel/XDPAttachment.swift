import CSystemLibraries

/// How an XDP program runs on an interface.
public enum XDPMode: String, Sendable, CaseIterable {
    /// In the driver, before the kernel allocates a socket buffer (veth supports it; lo does not).
    case native
    /// In the core network stack, after the socket buffer exists: works on every interface.
    case generic
    /// Native when the driver supports it, generic otherwise.
    case auto

    var flags: UInt32 {
        switch self {
        case .native: return UInt32(XDP_FLAGS_DRV_MODE)
        case .generic: return UInt32(XDP_FLAGS_SKB_MODE)
        case .auto: return 0
        }
    }
}

/// What is attached at an interface's XDP hook (bpf_xdp_query).
public struct XDPStatus: Sendable, Equatable {
    /// The program running, 0 when none.
    public var programID: UInt32
    /// `.native` or `.generic` (nil when nothing is attached or the mode is offload/multi).
    public var mode: XDPMode?

    public init(programID: UInt32, mode: XDPMode?) {
        self.programID = programID
        self.mode = mode
    }
}

/// An XDP program attached to an interface through a bpf_link. Pinned, the link keeps the program
/// attached after the process exits; `replace(with:)` swaps the program atomically (no packet
/// sees "no program"); `detach()` removes it.
public final class XDPAttachment: @unchecked Sendable {
    let descriptor: OwnedDescriptor
    public let interface: NetworkInterface
    /// The mode the program runs in; `.auto` only for a pinned link whose mode cannot be seen from
    /// this network namespace.
    public let mode: XDPMode
    /// Set when `.auto` fell back to generic mode: why native mode was refused.
    public internal(set) var nativeRefusal: String?

    public var fd: Int32 { descriptor.raw }

    init(fd: Int32, interface: NetworkInterface, mode: XDPMode) {
        descriptor = OwnedDescriptor(fd)
        self.interface = interface
        self.mode = mode
    }

    /// Closes our handle; a pinned link stays attached, an unpinned one detaches.
    public func close() { descriptor.close() }

    /// Attaches `program` to `interface`. `.auto` tries native first and falls back to generic
    /// when the driver cannot run this program natively (`nativeRefusal` says why; nil when
    /// native worked or was not tried). Fails with `.foreignProgramAttached` when another program
    /// already holds the hook.
    public static func attach(_ program: BPFProgram, to interface: NetworkInterface,
                              mode: XDPMode = .auto) throws(KernelError) -> XDPAttachment {
        _ = libbpfSilenced
        let first = try create(program, on: interface, mode: mode == .auto ? .native : mode)
        if first >= 0 { return XDPAttachment(fd: first, interface: interface, mode: mode == .auto ? .native : mode) }
        guard mode == .auto, let why = nativeRefusals[-first] else {
            throw try failure(-first, attaching: mode == .auto ? .native : mode, to: interface)
        }
        let generic = try create(program, on: interface, mode: .generic)
        guard generic >= 0 else { throw try failure(-generic, attaching: .generic, to: interface) }
        let link = XDPAttachment(fd: generic, interface: interface, mode: .generic)
        link.nativeRefusal = "native XDP refused on \(interface.name) (\(String(cString: strerror(-first)))): \(why)"
        return link
    }

    /// Errors of a native attach that mean "this driver can't run this program natively", with
    /// what they usually mean there; `--mode auto` then attaches in generic mode (in the stack,
    /// every device). Anything else (another program there, no permission, no such interface) is
    /// reported as it is.
    static let nativeRefusals: [Int32: String] = [
        EOPNOTSUPP: "the driver has no native XDP (loopback, many virtual and older devices)",
        524: "the driver has no native XDP",  // ENOTSUPP, the kernel-internal code some drivers return
        ERANGE: "the MTU is too large for a single-buffer XDP program on this device",
        EINVAL: "the driver refused the program in its current configuration (MTU, LRO, queues)",
        ENOMEM: "the driver could not allocate its XDP resources (e.g. XDP_TX queues)",
        ENOSPC: "the driver has too few queues for XDP",
    ]

    /// One bpf_link_create with the flags of `mode` (`.native` or `.generic`): the link's
    /// descriptor, or -errno.
    private static func create(_ program: BPFProgram, on interface: NetworkInterface,
                               mode: XDPMode) throws(KernelError) -> Int32 {
        try withZeroedOptions(bpf_link_create_opts.self, size: \.sz) { opts in
            opts.pointee.flags = mode.flags
            return bpf_link_create(program.fd, Int32(bitPattern: interface.index), BPF_XDP, opts)
        }
    }

    /// The error to report for a failed attach in `mode`.
    private static func failure(_ code: Int32, attaching mode: XDPMode,
                                to interface: NetworkInterface) throws(KernelError) -> KernelError {
        if code == EBUSY || code == EEXIST {
            let status = try query(interface)
            let name = status.programID == 0 ? "" : ((try? BPFProgram.info(id: status.programID).name) ?? "?")
            return .foreignProgramAttached(interface: interface.name, hook: "XDP",
                                           programID: status.programID, programName: name)
        }
        if code == EPERM || code == EACCES { return .permissionDenied(operation: "attaching XDP to \(interface)") }
        if code == ENODEV { return .unknownInterface(interface.name) }
        if mode == .native, let why = nativeRefusals[code] {
            return .invalidArgument("cannot attach XDP to \(interface) in native mode: \(why) (\(String(cString: strerror(code)))); "
                                    + "use --mode generic, or --mode auto to fall back by itself")
        }
        return .system(operation: "attaching XDP (\(mode.rawValue) mode) to \(interface)", errno: code)
    }

    /// Swaps in `program` atomically. With `expected`, the swap happens only if that program is
    /// still the one attached (someone else replacing it in between makes this fail).
    public func replace(with program: BPFProgram, expected: BPFProgram? = nil) throws(KernelError) {
        let result = try withZeroedOptions(bpf_link_update_opts.self, size: \.sz) { opts in
            if let expected {
                opts.pointee.flags = UInt32(BPF_F_REPLACE)
                opts.pointee.old_prog_fd = UInt32(bitPattern: expected.fd)
            }
            return bpf_link_update(fd, program.fd, opts)
        }
        if result == -ENOLINK { throw .invalidArgument("the XDP link on \(interface) is no longer attached (interface gone or link detached)") }
        try check(result, "replacing the XDP program on \(interface)")
    }

    /// Detaches the program now, even while the link is still pinned or held elsewhere.
    public func detach() throws(KernelError) {
        let result = bpf_link_detach(fd)
        if result != -ENOLINK { try check(result, "detaching XDP from \(interface)") }
    }

    public func pin(at path: String) throws(KernelError) { try pinObject(fd: fd, at: path) }

    /// Opens a pinned XDP link.
    public static func fromPinned(_ path: String) throws(KernelError) -> XDPAttachment {
        let fd = try openPinned(path)
        let link = LinkInfo.of(fd: fd)
        guard let link, link.type == BPF_LINK_TYPE_XDP.rawValue else {
            _ = CSystemLibraries.close(fd)
            throw .invalidArgument("\(path) is not an XDP link")
        }
        let interface = (try? NetworkInterface(index: link.interfaceIndex))
            ?? NetworkInterface(unchecked: "#\(link.interfaceIndex)", index: link.interfaceIndex)
        // The ifindex may belong to another network namespace: trust the query only when it shows
        // this link's program.
        let status = try? query(interface)
        let mode: XDPMode = status.flatMap { $0.programID == link.programID ? $0.mode : nil } ?? .auto
        return XDPAttachment(fd: fd, interface: interface, mode: mode)
    }

    /// The id of the program this link runs now (0 once the link is detached).
    public var programID: UInt32 { LinkInfo.of(fd: fd)?.programID ?? 0 }

    /// What is attached at `interface`'s XDP hook, whoever attached it.
    public static func query(_ interface: NetworkInterface) throws(KernelError) -> XDPStatus {
        _ = libbpfSilenced
        return try withZeroedOptions(bpf_xdp_query_opts.self, size: \.sz) { (opts) throws(KernelError) -> XDPStatus in
            let result = bpf_xdp_query(Int32(bitPattern: interface.index), 0, opts)
            if result == -ENODEV { throw .unknownInterface(interface.name) }
            try check(result, "querying XDP on \(interface)")
            let mode: XDPMode?
            switch Int32(opts.pointee.attach_mode) {
            case Int32(XDP_ATTACHED_DRV): mode = .native
            case Int32(XDP_ATTACHED_SKB): mode = .generic
            default: mode = nil
            }
            return XDPStatus(programID: opts.pointee.prog_id, mode: mode)
        }
    }
}

extension NetworkInterface {
    /// For an interface that has vanished: keeps the index for messages.
    init(unchecked name: String, index: UInt32) {
        self.name = name
        self.index = index
    }
}

/// The parts of `struct bpf_link_info` xdpfw reads.
struct LinkInfo {
    var type: UInt32
    var programID: UInt32
    var interfaceIndex: UInt32

    static func of(fd: Int32) -> LinkInfo? {
        var info = bpf_link_info()
        var length = UInt32(MemoryLayout<bpf_link_info>.size)
        guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else { return nil }
        return LinkInfo(type: info.type, programID: info.prog_id, interfaceIndex: info.xdp.ifindex)
    }
}
