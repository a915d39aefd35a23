import EBPF

/// Pins of named network namespaces that no longer exist: deleting a namespace takes its
/// interfaces and their programs with it, but not the pins under /sys/fs/bpf/xdpfw/netns/NAME.
public enum NamespaceLeftovers {
    /// The names of namespaces with pins but no /run/netns/NAME, sorted.
    public static func goneNamespaces() -> [String] {
        BPFFileSystem.entries(of: PinDirectory.defaultRoot + "/netns").map(PinDirectory.unescape)
            .filter { !NetworkNamespace.exists(name: $0) }.sorted()
    }

    /// The installations pinned for the gone namespace `name`, each `.interfaceGone`.
    public static func installations(ofNamespace name: String) -> [HookInstallation] {
        PinDirectory.all(root: PinDirectory.root(forNamespace: name)).map { HookInstallation.leftover($0, namespace: name) }
    }

    /// Unpins what xdpfw left for `interface` (every hook, or `hook`) of the gone namespace `name`,
    /// and the namespace's directory when nothing else is left. Returns the hooks removed.
    public static func remove(interface: String, hook: Hook?, ofNamespace name: String) throws(KernelError) -> [Hook] {
        let root = PinDirectory.root(forNamespace: name)
        var removed = [Hook]()
        for candidate in hook.map({ [$0] }) ?? Hook.allCases {
            let directory = PinDirectory(interface: interface, hook: candidate, root: root)
            guard directory.exists else { continue }
            try directory.remove()
            removed.append(candidate)
        }
        return removed
    }
}
