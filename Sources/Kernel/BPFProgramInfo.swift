import CSystemLibraries

/// What the kernel reports about a loaded program (BPF_OBJ_GET_INFO_BY_FD).
public struct BPFProgramInfo: Sendable, Equatable {
    public var id: UInt32
    public var name: String
    /// The program type number (`BPF_PROG_TYPE_*`): 6 is XDP, 3 is SCHED_CLS.
    public var type: UInt32
    /// The kernel's tag: a hash of the instructions, as 16 hex digits (what bpftool prints).
    public var tag: String
    /// Size in bytes of the program after the verifier's rewrites, and of the JIT-compiled code.
    public var translatedBytes: UInt32
    public var jitedBytes: UInt32
    /// Number of instructions after the verifier's rewrites (translatedBytes / 8).
    public var translatedInstructions: UInt32 { translatedBytes / 8 }
    /// Instructions the verifier processed to prove the program safe.
    public var verifiedInstructions: UInt32
    /// Boot-time nanoseconds at load.
    public var loadTime: UInt64

    /// When the program was loaded, in seconds since the Unix epoch (`loadTime` is on the
    /// CLOCK_BOOTTIME clock, which the wall clock is offset from).
    public var loadedAtUnixTime: Double {
        var boot = timespec(), real = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        clock_gettime(CLOCK_REALTIME, &real)
        let bootedAt = Double(real.tv_sec) + Double(real.tv_nsec) / 1e9 - Double(boot.tv_sec) - Double(boot.tv_nsec) / 1e9
        return bootedAt + Double(loadTime) / 1e9
    }
    public var mapIDs: [UInt32]

    public var isXDP: Bool { type == BPF_PROG_TYPE_XDP.rawValue }
    public var isSchedCLS: Bool { type == BPF_PROG_TYPE_SCHED_CLS.rawValue }

    static func of(fd: Int32) throws(KernelError) -> BPFProgramInfo {
        var info = bpf_prog_info()
        var length = UInt32(MemoryLayout<bpf_prog_info>.size)
        try check(bpf_obj_get_info_by_fd(fd, &info, &length), "reading BPF program info")
        var mapIDs = [UInt32]()
        if info.nr_map_ids > 0 {
            // Ask again with room for the map ids.
            let count = Int(info.nr_map_ids)
            var ids = [UInt32](repeating: 0, count: count)
            var again = bpf_prog_info()
            var againLength = UInt32(MemoryLayout<bpf_prog_info>.size)
            let result = ids.withUnsafeMutableBufferPointer { buffer in
                again.nr_map_ids = UInt32(count)
                again.map_ids = UInt64(UInt(bitPattern: buffer.baseAddress!))
                return bpf_obj_get_info_by_fd(fd, &again, &againLength)
            }
            try check(result, "reading BPF program map ids")
            mapIDs = Array(ids.prefix(Int(min(again.nr_map_ids, UInt32(count)))))
        }
        let tag = withUnsafeBytes(of: info.tag) { $0.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined() }
        return BPFProgramInfo(id: info.id, name: cString(tuple: info.name), type: info.type, tag: tag,
                              translatedBytes: info.xlated_prog_len, jitedBytes: info.jited_prog_len,
                              verifiedInstructions: info.verified_insns, loadTime: info.load_time,
                              mapIDs: mapIDs)
    }
}

extension BPFProgram {
    /// Information about any loaded program by id (e.g. the one `XDPAttachment.query` reports).
    public static func info(id: UInt32) throws(KernelError) -> BPFProgramInfo {
        let descriptor = OwnedDescriptor(try check(bpf_prog_get_fd_by_id(id), "opening BPF program id \(id)"))
        return try BPFProgramInfo.of(fd: descriptor.raw)
    }
}

/// A fixed-size C `char[N]` imported as a tuple, read up to its first NUL.
func cString<T>(tuple: T) -> String {
    withUnsafeBytes(of: tuple) { bytes in
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
