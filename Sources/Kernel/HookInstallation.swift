import CSystemLibraries

/// What xdpfw has installed at one hook of one interface, read back from its pin directory and
/// the kernel: what `status` and `stats` show after the applying process is gone.
public struct HookInstallation: Sendable {
    public let directory: PinDirectory
    public var interface: String { directory.interface }
    public var hook: AttachPoint { directory.hook }
    /// The pinned program (nil when its pin is missing).
    public var program: BPFProgramInfo?
    /// The program the kernel runs at the hook now, when xdpfw's attachment is still in place.
    public var attachedProgramID: UInt32?
    /// XDP only: the mode the program runs in.
    public var xdpMode: XDPMode?
    /// The ruleset text pinned at apply time.
    public var rulesetText: String?
    /// The attachment record (`key=value`): mode, clsact ownership, TC handle and priority.
    public var record: [String: String]

    /// True when the kernel still runs xdpfw's program at this hook.
    public var isAttached: Bool { attachedProgramID.map { $0 != 0 } ?? false }

    /// Opens a map pinned in the directory by `apply` (e.g. `PinDirectory.Entry.counters`).
    public func map(named name: String) throws(KernelError) -> BPFMap {
        try BPFMap.fromPinned(directory.path(of: name))
    }

    /// Reads the installation at `directory`, asking the kernel (in the current network namespace)
    /// what is attached now.
    public static func read(_ directory: PinDirectory) -> HookInstallation {
        let programPath = directory.path(of: PinDirectory.Entry.program)
        let program: BPFProgramInfo? = (try? BPFProgram.fromPinned(programPath)).flatMap { try? $0.info() }
        let text = try? PinnedText.read(at: directory.path(of: PinDirectory.Entry.ruleset))
        let record = (try? directory.record()) ?? [:]
        var installation = HookInstallation(directory: directory, program: program, attachedProgramID: nil,
                                            xdpMode: nil, rulesetText: text, record: record)
        switch directory.hook {
        case .xdp:
            if let link = try? XDPAttachment.fromPinned(directory.path(of: PinDirectory.Entry.link)) {
                installation.attachedProgramID = link.programID
                let mode = link.mode == .auto ? record["mode"].flatMap(XDPMode.init(rawValue:)) : link.mode
                installation.xdpMode = installation.isAttached ? mode : nil
            }
        case .tcIngress, .tcEgress:
            if let attachment = try? directory.tcAttachment() {
                installation.attachedProgramID = (try? attachment.programID()) ?? nil
            }
        }
        return installation
    }

    /// Every installation xdpfw has pinned under `root`.
    public static func all(root: String = PinDirectory.defaultRoot) -> [HookInstallation] {
        PinDirectory.all(root: root).map(read)
    }

    /// The installation at one hook of one interface, nil when xdpfw has nothing there.
    public static func find(interface: String, hook: AttachPoint,
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
