import CSystemLibraries

/// Pins a program, map or link at `path` on a BPF file system.
func pinObject(fd: Int32, at path: String) throws(KernelError) {
    let result = bpf_obj_pin(fd, path)
    if result == -EEXIST { throw .system(operation: "pinning at \(path): something is already pinned there", errno: EEXIST) }
    try check(result, "pinning at \(path)", path: path)
}

/// Opens the BPF object pinned at `path`.
func openPinned(_ path: String) throws(KernelError) -> Int32 {
    _ = libbpfSilenced
    return try check(bpf_obj_get(path), "opening pinned BPF object \(path)", path: path)
}
