import CSystemLibraries
import Foundation

/// The BPF file system (bpffs), where programs, maps and links are pinned so they outlive the
/// process that made them.
public enum BPFFileSystem {
    public static let mountPoint = "/sys/fs/bpf"

    /// True when `path` lies on a bpffs.
    public static func isBPFFileSystem(_ path: String = mountPoint) -> Bool {
        var info = statfs()
        guard statfs(path, &info) == 0 else { return false }
        return UInt(bitPattern: Int(info.f_type)) == UInt(BPF_FS_MAGIC)
    }

    /// Mounts bpffs at `mountPoint` when it is not there yet, as bpftool does. Returns true when it
    /// mounted one.
    @discardableResult
    public static func ensureMounted(at path: String = mountPoint) throws(KernelError) -> Bool {
        if isBPFFileSystem(path) { return false }
        if !FileManager.default.fileExists(atPath: path) {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            catch { throw .bpfFileSystemMissing(path: path, errno: ENOENT) }
        }
        guard mount("bpf", path, "bpf", 0, "mode=0700") == 0 else {
            let code = xdpfw_errno()
            if code == EPERM { throw .permissionDenied(operation: "mounting bpffs at \(path)") }
            throw .bpfFileSystemMissing(path: path, errno: code)
        }
        return true
    }

    /// `mkdir -p` on bpffs (mounting it first when needed).
    public static func makeDirectory(_ path: String) throws(KernelError) {
        try ensureMounted()
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && xdpfw_errno() != EEXIST {
                throw .from(errno: xdpfw_errno(), operation: "creating pin directory \(prefix)", path: prefix)
            }
        }
    }

    /// Removes one pin; the object lives on while something else holds it. Missing pins are fine.
    public static func unpin(_ path: String) throws(KernelError) {
        if unlink(path) != 0 && xdpfw_errno() != ENOENT {
            throw .from(errno: xdpfw_errno(), operation: "removing pin \(path)")
        }
    }

    /// Moves a pin; replaces whatever was pinned at `destination`.
    public static func rename(_ source: String, to destination: String) throws(KernelError) {
        try checkLibc(CSystemLibraries.rename(source, destination), "renaming pin \(source) to \(destination)", path: source)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Names in a directory, sorted; empty when it does not exist.
    public static func entries(of path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// Text kept on bpffs (which holds only BPF objects) as a frozen, pinned array map: element 0
/// starts with the text's byte length (UInt32, little-endian), the bytes follow across elements.
/// `stats` reads the ruleset text this way after the process that applied it is gone.
public enum PinnedText {
    static let chunkSize = 4096

    /// Pins `text` at `path`, replacing what was there in one rename.
    public static func write(_ text: String, at path: String) throws(KernelError) {
        let bytes = withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian) { Array($0) } + Array(text.utf8)
        let chunks = max(1, (bytes.count + chunkSize - 1) / chunkSize)
        let map = try BPFMap.create(type: .array, keySize: 4, valueSize: chunkSize, maxEntries: chunks,
                                    name: "xdpfw_text", flags: UInt32(BPF_F_RDONLY_PROG))
        defer { map.close() }
        for index in 0..<chunks {
            var chunk = Array(bytes[(index * chunkSize)..<min(bytes.count, (index + 1) * chunkSize)])
            chunk += [UInt8](repeating: 0, count: chunkSize - chunk.count)
            try map.update(key: BPFMap.key(index: UInt32(index)), value: chunk)
        }
        _ = bpf_map_freeze(map.fd)
        let temporary = path + "-new"  // bpffs refuses names with a dot (EPERM)
        try BPFFileSystem.unpin(temporary)
        try map.pin(at: temporary)
        try BPFFileSystem.rename(temporary, to: path)
    }

    /// The text pinned at `path` by `write`.
    public static func read(at path: String) throws(KernelError) -> String {
        let map = try BPFMap.fromPinned(path)
        defer { map.close() }
        guard map.type == .array, map.keySize == 4 else { throw .invalidArgument("\(path) does not hold text pinned by xdpfw") }
        var bytes = [UInt8]()
        for index in 0..<map.maxEntries {
            bytes += try map.lookup(key: BPFMap.key(index: UInt32(index))) ?? []
        }
        guard bytes.count >= 4 else { return "" }
        let length = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard length <= bytes.count - 4 else { throw .invalidArgument("\(path): text length \(length) exceeds the map") }
        return String(decoding: bytes[4..<(4 + length)], as: UTF8.self)
    }
}
