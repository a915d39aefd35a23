import CSystemLibraries
import EBPF

/// What the kernel needs to know about the kinds of program xdpfw loads (`Hook.Kind`).
extension Hook.Kind {
    /// The most packet bytes a BPF_PROG_TEST_RUN program sees in its linear buffer (one 4 KiB page
    /// less the kernel's headroom and tailroom; measured on this x86-64 kernel).
    /// XDP: longer packets still run, but bytes past this limit sit in fragments the program cannot
    /// read directly, and `data_end - data` is this limit. TC: the kernel refuses longer packets.
    public var testRunLinearLimit: Int {
        switch self {
        case .xdp: return 4096 - 256 - 320
        case .tc: return 4096 - 64 - 320
        }
    }

    /// The longest packet BPF_PROG_TEST_RUN takes. XDP: the linear part and up to 17 page-sized
    /// fragments (MAX_SKB_FRAGS) of a multi-buffer frame, which the programs read (loaded with
    /// BPF_F_XDP_HAS_FRAGS); measured on this kernel. TC: the linear limit.
    public var testRunFrameLimit: Int {
        switch self {
        case .xdp: return testRunLinearLimit + 17 * 4096
        case .tc: return testRunLinearLimit
        }
    }

    /// How messages name the program type.
    public var displayName: String {
        switch self {
        case .xdp: return "XDP"
        case .tc: return "TC"
        }
    }

    /// The kernel's program type (`enum bpf_prog_type`).
    var kernelType: bpf_prog_type {
        switch self {
        case .xdp: return BPF_PROG_TYPE_XDP
        case .tc: return BPF_PROG_TYPE_SCHED_CLS
        }
    }
}

/// A program the kernel has verified and holds; the file descriptor is closed on `close()` or deinit.
/// Pinned or attached programs stay in the kernel after that.
public final class BPFProgram: @unchecked Sendable {
    let descriptor: OwnedDescriptor
    /// The name the program was loaded with (as the kernel stores it: at most 15 characters).
    public let name: String
    /// Wall time of the BPF_PROG_LOAD call that made this program (verification and JIT), nil when
    /// the program came from a pin.
    public let loadDuration: Duration?
    public let type: Hook.Kind

    public var fd: Int32 { descriptor.raw }

    init(fd: Int32, type: Hook.Kind, name: String, loadDuration: Duration?) {
        self.descriptor = OwnedDescriptor(fd)
        self.type = type
        self.name = name
        self.loadDuration = loadDuration
    }

    public func close() { descriptor.close() }

    /// Loads `instructions` (each `UInt64` is one `struct bpf_insn` exactly as it lies in memory)
    /// through the verifier. A rejection throws `.verifierRejected` carrying the verifier's log.
    /// An XDP program is loaded with BPF_F_XDP_HAS_FRAGS unless `xdpFragments` is false (a
    /// single-buffer program: `XDPHook.multiBuffer`); programs of one tail-call chain, or held
    /// in one dispatcher, must agree.
    /// `boundTo`: an XDP program for that interface only (BPF_F_XDP_DEV_BOUND_ONLY), which may
    /// call the driver's metadata kfuncs; it attaches natively there and nowhere else, and cannot
    /// be test-run or tail-called.
    public static func load(type: Hook.Kind, instructions: [UInt64], name: String,
                            license: String = "GPL", xdpFragments: Bool = true,
                            boundTo interface: UInt32? = nil) throws(KernelError) -> BPFProgram {
        _ = libbpfSilenced
        guard !instructions.isEmpty else { throw .invalidArgument("cannot load an empty program") }
        let kernelName = kernelObjectName(name)
        var logSize = 1 << 20
        while true {
            let log = UnsafeMutablePointer<CChar>.allocate(capacity: logSize)
            defer { log.deallocate() }
            log.initialize(repeating: 0, count: logSize)
            let clock = ContinuousClock()
            let start = clock.now
            let result = try withZeroedOptions(bpf_prog_load_opts.self, size: \.sz) { opts in
                if type == .xdp {
                    opts.pointee.expected_attach_type = BPF_XDP
                    // A multi-buffer program reads a frame's fragments through helpers: the
                    // kernel refuses a program without this flag on a device whose MTU needs
                    // more than a page (ERANGE on a veth at MTU 9000).
                    if xdpFragments { opts.pointee.prog_flags = UInt32(BPF_F_XDP_HAS_FRAGS) }
                    if let interface {
                        opts.pointee.prog_flags |= UInt32(XDPFW_BPF_F_XDP_DEV_BOUND_ONLY)
                        opts.pointee.prog_ifindex = interface
                    }
                }
                // log_level 0 with a buffer: libbpf loads without a log first (a truncated log
                // would fail even a good program) and retries with log_level 1 only on failure.
                opts.pointee.log_level = logSize > 1 << 20 ? 1 : 0
                opts.pointee.log_size = UInt32(logSize)
                opts.pointee.log_buf = log
                return instructions.withUnsafeBytes { bytes in
                    bpf_prog_load(type.kernelType, kernelName, license,
                                  bytes.baseAddress!.assumingMemoryBound(to: bpf_insn.self),
                                  instructions.count, opts)
                }
            }
            let elapsed = clock.now - start
            if result >= 0 { return BPFProgram(fd: result, type: type, name: kernelName, loadDuration: elapsed) }
            let code = -result
            let text = String(cString: log)
            if code == ENOSPC && logSize < 1 << 26 {
                logSize *= 8  // the log did not fit: ask again with room for it
                continue
            }
            if code == EPERM && text.isEmpty {
                throw .permissionDenied(operation: "loading BPF program '\(kernelName)'")
            }
            if text.isEmpty && code == E2BIG {
                throw .invalidArgument("program '\(kernelName)' has \(instructions.count) instructions, more than the kernel accepts")
            }
            throw .verifierRejected(program: kernelName,
                                    errno: code,
                                    log: code == ENOSPC ? text + "\n(verifier log truncated)" : text)
        }
    }

    /// Opens a pinned program (e.g. /sys/fs/bpf/xdpfw/eth0/xdp/program).
    public static func fromPinned(_ path: String) throws(KernelError) -> BPFProgram {
        let fd = try openPinned(path)
        return try adopt(fd: fd)
    }

    /// Opens a loaded program by its kernel id (as shown by `bpftool prog`).
    public static func fromID(_ id: UInt32) throws(KernelError) -> BPFProgram {
        let fd = try check(bpf_prog_get_fd_by_id(id), "opening BPF program id \(id)")
        return try adopt(fd: fd)
    }

    private static func adopt(fd: Int32) throws(KernelError) -> BPFProgram {
        let descriptor = OwnedDescriptor(fd)  // closes the fd if this throws
        let info = try BPFProgramInfo.of(fd: fd)
        guard info.isXDP || info.isSchedCLS else {
            throw .invalidArgument("BPF program '\(info.name)' (id \(info.id)) is neither XDP nor TC")
        }
        let program = BPFProgram(fd: fd, type: info.isXDP ? .xdp : .tc, name: info.name, loadDuration: nil)
        descriptor.release()
        return program
    }

    public func pin(at path: String) throws(KernelError) { try pinObject(fd: fd, at: path) }

    /// What the kernel knows about this program now (id, tag, sizes, verified instructions).
    public func info() throws(KernelError) -> BPFProgramInfo { try BPFProgramInfo.of(fd: fd) }
}

/// One BPF_PROG_TEST_RUN result.
public struct TestRunResult: Sendable, Equatable {
    /// The program's return value (XDP action or TC action).
    public var returnValue: UInt32
    /// Mean nanoseconds per repetition as the kernel measured it.
    public var durationNanoseconds: UInt32
    /// The packet as the program left it.
    public var packetOut: [UInt8]
}

extension BPFProgram {
    /// Runs the program once per `repeat` on a copy of `packet` inside the kernel
    /// (BPF_PROG_TEST_RUN). The kernel needs at least an Ethernet header (14 bytes).
    ///
    /// XDP: a packet longer than `testRunLinearLimit` becomes a multi-buffer frame, its bytes
    /// beyond the linear part in page-sized fragments (at most `testRunFrameLimit` bytes in all).
    /// `linearBytes` asks for a shorter linear part (kernel 6.18+: `xdp_md.data_end` of the
    /// context passed in; a larger one is cut to the limit).
    public func testRun(packet: [UInt8], repeat count: UInt32 = 1, linearBytes: Int? = nil) throws(KernelError) -> TestRunResult {
        guard packet.count >= 14 else {
            throw .invalidArgument("BPF_PROG_TEST_RUN needs a packet of at least 14 bytes (an Ethernet header), got \(packet.count)")
        }
        guard count <= UInt32(Int32.max) else { throw .invalidArgument("repeat count \(count) is too large") }
        // XDP may grow the packet at the head or tail: leave room so the copy out never fails.
        let outCapacity = packet.count + 4096
        var out = [UInt8](repeating: 0, count: outCapacity)
        var input = packet
        var context = xdp_md()
        if let linearBytes {
            guard type == .xdp, linearBytes >= 14, linearBytes <= packet.count else {
                throw .invalidArgument("a linear part of \(linearBytes) bytes needs an XDP program and 14 to \(packet.count) bytes")
            }
            context.data_end = UInt32(linearBytes)
        }
        return try withZeroedOptions(bpf_test_run_opts.self, size: \.sz) { (opts) throws(KernelError) -> TestRunResult in
            let result = input.withUnsafeMutableBytes { inBytes in
                out.withUnsafeMutableBytes { outBytes in
                    withUnsafeMutablePointer(to: &context) { contextPointer in
                        opts.pointee.data_in = UnsafeRawPointer(inBytes.baseAddress!)
                        opts.pointee.data_size_in = UInt32(inBytes.count)
                        opts.pointee.data_out = outBytes.baseAddress!
                        opts.pointee.data_size_out = UInt32(outBytes.count)
                        opts.pointee.repeat = Int32(max(count, 1))
                        if linearBytes != nil {
                            opts.pointee.ctx_in = UnsafeRawPointer(contextPointer)
                            opts.pointee.ctx_size_in = UInt32(MemoryLayout<xdp_md>.size)
                        }
                        return bpf_prog_test_run_opts(fd, opts)
                    }
                }
            }
            if (result == -EINVAL || result == -ENOMEM) && packet.count > type.testRunFrameLimit {  // XDP: ENOMEM past 17 fragments
                throw .invalidArgument("BPF_PROG_TEST_RUN of a program of type \(type.displayName) takes at most \(type.testRunFrameLimit) bytes, the packet has \(packet.count)")
            }
            try check(result, "test-running BPF program '\(name)'")
            let size = min(Int(opts.pointee.data_size_out), outCapacity)
            return TestRunResult(returnValue: opts.pointee.retval,
                                 durationNanoseconds: opts.pointee.duration,
                                 packetOut: Array(out[..<size]))
        }
    }
}

/// Kernel functions (kfuncs) a program may call, found by name in the running kernel's BTF.
public enum KernelFunction {
    /// `bpf_xdp_metadata_rx_vlan_tag`: the VLAN tag a NIC took out of a received frame.
    public static let xdpMetadataVLANTag = "bpf_xdp_metadata_rx_vlan_tag"

    /// The BTF id of `name` in vmlinux, nil when the kernel has no such function (or no BTF).
    public static func btfID(_ name: String) -> Int32? {
        _ = libbpfSilenced
        guard let btf = btf__load_vmlinux_btf() else { return nil }
        defer { btf__free(btf) }
        let id = btf__find_by_name_kind(btf, name, 12)   // BTF_KIND_FUNC
        return id > 0 ? id : nil
    }
}

