import CSystemLibraries
import EBPF

/// What xdpfw has installed at one hook of one interface, read back from its pin directory and
/// the kernel: what `status` and `stats` show after the applying process is gone.
public struct HookInstallation: Sendable {
    public let directory: PinDirectory
    public var interface: String { directory.interface }
    public var hook: Hook { directory.hook }
    /// The pinned program (nil when its pin is missing).
    public var program: BPFProgramInfo?
    /// The program the kernel runs at the hook now, when xdpfw's attachment is still in place.
    public var attachedProgramID: UInt32?
    /// Whether the kernel runs the pinned program at the hook of the interface of that name now.
    public var state: State = .notAttached
    /// Why the state is not `.attached`, for people ("the interface was deleted", ...).
    public var stateReason: String?
    /// XDP only: the mode the program runs in.
    public var xdpMode: XDPMode?
    /// The ruleset text pinned at apply time.
    public var rulesetText: String?
    /// The attachment record (`key=value`): mode, clsact ownership, TC handle and priority.
    public var record: [String: String]

    /// True when the kernel still runs xdpfw's program at this hook.
    public var isAttached: Bool { state == .attached }

    /// The kernel's view of an installation against its pins.
    public enum State: String, Sendable {
        /// The kernel runs the pinned program at the hook of the interface it was applied to.
        case attached
        /// No interface of that name, or one re-created since (another ifindex): the rules went with it.
        case interfaceGone = "interface gone"
        /// The interface is there but the hook does not run xdpfw's pinned program.
        case notAttached = "not attached"
    }

    /// The record key of the ifindex the rules were applied to (written by the caller of
    /// `HookInstaller.apply`, so a re-created interface of the same name is told apart).
    public static let interfaceIndexKey = "ifindex"

    /// Opens a map pinned in the directory by `apply` (e.g. `.counters`).
    public func map(_ name: MapName) throws(KernelError) -> BPFMap {
        try BPFMap.fromPinned(directory.path(of: name))
    }

    /// Reads the installation at `directory`, asking the kernel (in the current network namespace)
    /// what is attached now.
    public static func read(_ directory: PinDirectory) -> HookInstallation {
        var installation = pinned(directory)
        installation.compareWithKernel()
        return installation
    }

    /// Reads the pins of an installation whose network namespace is gone, without asking the
    /// kernel (an interface of the same name here is another one): `.interfaceGone`.
    public static func leftover(_ directory: PinDirectory, namespace: String) -> HookInstallation {
        var installation = pinned(directory)
        installation.state = .interfaceGone
        installation.stateReason = "its network namespace '\(namespace)' no longer exists"
        return installation
    }

    private static func pinned(_ directory: PinDirectory) -> HookInstallation {
        let programPath = directory.path(of: PinDirectory.Entry.program)
        let program: BPFProgramInfo? = (try? BPFProgram.fromPinned(programPath)).flatMap { try? $0.info() }
        let text = try? PinnedText.read(at: directory.path(of: PinDirectory.Entry.ruleset))
        let record = (try? directory.record()) ?? [:]
        return HookInstallation(directory: directory, program: program, attachedProgramID: nil,
                                xdpMode: nil, rulesetText: text, record: record)
    }

    /// Every installation xdpfw has pinned under `root`.
    public static func all(root: String = PinDirectory.defaultRoot) -> [HookInstallation] {
        PinDirectory.all(root: root).map(read)
    }

    /// The installation at one hook of one interface, nil when xdpfw has nothing there.
    public static func find(interface: String, hook: Hook,
                            root: String = PinDirectory.defaultRoot) -> HookInstallation? {
        let directory = PinDirectory(interface: interface, hook: hook, root: root)
        return directory.exists ? read(directory) : nil
    }
}

extension PinDirectory {
    /// The TC filter recorded in this directory (handle and priority from the record).
    func tcAttachment() throws(KernelError) -> TCAttachment {
        let record = try record()
        let interface = try NetworkInterface(name: interface)
        return TCAttachment(interface: interface, direction: hook.tcDirection,
                            handle: record["handle"].flatMap { UInt32($0) } ?? TCAttachment.defaultHandle,
                            priority: record["priority"].flatMap { UInt32($0) } ?? TCAttachment.defaultPriority)
    }
}
