import CSystemLibraries

/// Everything that can go wrong between xdpfw and the kernel, with a message a person can act on.
public enum KernelError: Error, Equatable, CustomStringConvertible, Sendable {
    /// EPERM/EACCES outside the verifier: not root, or CAP_BPF/CAP_NET_ADMIN missing.
    case permissionDenied(operation: String)
    /// EPERM entering a network namespace (`-n`): that needs CAP_SYS_ADMIN besides the others.
    case namespacePermissionDenied(operation: String)
    /// /sys/fs/bpf is not a bpffs and could not be mounted there.
    case bpfFileSystemMissing(path: String, errno: Int32)
    case unknownInterface(String)
    /// The verifier refused the program; `log` is the verifier's own text.
    case verifierRejected(program: String, errno: Int32, log: String)
    /// A pin, namespace or other path that does not exist.
    case notFound(path: String)
    /// The kernel lacks something xdpfw needs (message says what).
    case unsupported(String)
    /// An argument xdpfw refuses before asking the kernel.
    case invalidArgument(String)
    /// The interface already has a program xdpfw did not attach.
    case foreignProgramAttached(interface: String, hook: String, programID: UInt32, programName: String)
    /// A command-line tool (`ip`) failed.
    case commandFailed(command: String, status: Int32, output: String)
    /// Any other failing system call, with the errno it returned.
    case system(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .permissionDenied(let operation):
            return "\(operation): permission denied (run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)"
        case .namespacePermissionDenied(let operation):
            return "\(operation): permission denied (entering a network namespace needs CAP_SYS_ADMIN: run as root, "
                + "or grant CAP_SYS_ADMIN as well as CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)"
        case .bpfFileSystemMissing(let path, let code):
            return "no BPF file system at \(path) and mounting one failed: \(errnoText(code)) (try `mount -t bpf bpf \(path)`)"
        case .unknownInterface(let name):
            return "unknown interface '\(name)' (see `ip link`)"
        case .verifierRejected(let program, let code, let log):
            let trimmed = log.trimmingTrailingWhitespace
            return "the kernel verifier rejected program '\(program)' (\(errnoText(code)))"
                + (trimmed.isEmpty ? "" : ":\n" + trimmed)
        case .notFound(let path):
            return "\(path): not found"
        case .unsupported(let what):
            return "not supported by this kernel: \(what)"
        case .invalidArgument(let what):
            return what
        case .foreignProgramAttached(let interface, let hook, let id, let name):
            return "\(interface) already has a \(hook) program not attached by xdpfw (id \(id), name '\(name)'); remove it first"
        case .commandFailed(let command, let status, let output):
            let trimmed = output.trimmingTrailingWhitespace
            return "`\(command)` failed with status \(status)" + (trimmed.isEmpty ? "" : ": " + trimmed)
        case .system(let operation, let code):
            return "\(operation): \(errnoText(code))"
        }
    }

    /// The verifier refused a program for its size or the number of ways through it, not for
    /// anything it does: the same code split into smaller programs would pass.
    public var isVerifierComplexityLimit: Bool {
        guard case let .verifierRejected(_, _, log) = self else { return false }
        return log.contains("jumps is too complex") || log.contains("BPF program is too large")
    }

    /// The errno carried by the error, when there is one.
    public var errno: Int32? {
        switch self {
        case .permissionDenied, .namespacePermissionDenied: return EPERM
        case .bpfFileSystemMissing(_, let code), .verifierRejected(_, let code, _), .system(_, let code): return code
        case .notFound: return ENOENT
        default: return nil
        }
    }

    /// An errno as people read it: "Invalid argument (errno 22)".
    public static func text(errno code: Int32) -> String { errnoText(code) }

    /// Maps an errno from a failed call to the most helpful case.
    static func from(errno code: Int32, operation: String, path: String? = nil) -> KernelError {
        switch code {
        case EPERM, EACCES: return .permissionDenied(operation: operation)
        case ENOENT where path != nil: return .notFound(path: path!)
        default: return .system(operation: operation, errno: code)
        }
    }
}

func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text) + " (errno \(code))"
}

extension String {
    var trimmingTrailingWhitespace: String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace || last == "\0" { s = s.dropLast() }
        return String(s)
    }
}
