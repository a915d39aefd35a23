import CSystemLibraries

/// Owns one kernel file descriptor and closes it exactly once.
final class OwnedDescriptor: @unchecked Sendable {
    private(set) var raw: Int32
    init(_ raw: Int32) { self.raw = raw }
    func close() {
        if raw >= 0 { _ = CSystemLibraries.close(raw); raw = -1 }
    }
    /// Gives up ownership without closing (another owner took the fd).
    func release() { raw = -1 }
    deinit { close() }
}

/// libbpf rejects option structs whose padding is not zero, so they live in zeroed memory with
/// `sz` set and fields written in place.
func withZeroedOptions<Options, Result>(
    _ type: Options.Type, size: WritableKeyPath<Options, Int>,
    _ body: (UnsafeMutablePointer<Options>) throws(KernelError) -> Result
) throws(KernelError) -> Result {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Options>.size,
                                               alignment: MemoryLayout<Options>.alignment)
    defer { raw.deallocate() }
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Options>.size)
    let options = raw.bindMemory(to: Options.self, capacity: 1)
    options.pointer(to: size)!.pointee = MemoryLayout<Options>.size
    return try body(options)
}

/// libbpf 1.x returns `-errno` on failure (and sets errno); turn that into a thrown error.
@discardableResult
func check(_ result: Int32, _ operation: @autoclosure () -> String, path: String? = nil) throws(KernelError) -> Int32 {
    if result >= 0 { return result }
    throw KernelError.from(errno: -result, operation: operation(), path: path)
}

/// Plain libc calls return -1 and leave the reason in errno.
@discardableResult
func checkLibc(_ result: Int32, _ operation: @autoclosure () -> String, path: String? = nil) throws(KernelError) -> Int32 {
    if result >= 0 { return result }
    throw KernelError.from(errno: xdpfw_errno(), operation: operation(), path: path)
}

/// libbpf prints its own diagnostics to stderr; xdpfw reports errors itself.
let libbpfSilenced: Void = { _ = libbpf_set_print(nil) }()

func kernelObjectName(_ name: String) -> String {
    // The kernel takes at most 15 characters of [A-Za-z0-9_.] for program and map names.
    let allowed = name.unicodeScalars.map { s -> Character in
        (s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == ".")) ? Character(s) : "_"
    }
    return String(allowed.prefix(15))
}
