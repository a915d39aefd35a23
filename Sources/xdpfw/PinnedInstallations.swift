import Kernel

/// One installation as `status` and `stats` list it: `namespace` names the deleted network
/// namespace whose pins it is, nil for one of the namespace being looked at.
struct ListedInstallation {
    var namespace: String?
    var installation: HookInstallation
}

extension XDPFW {
    /// The installations `status` and `stats` look at, each compared with what the kernel runs:
    /// those of the namespace of `-n` (entered), or, when that namespace was deleted and left
    /// pins, those pins. `withGoneNamespaces` adds the pins of every deleted namespace when no
    /// `-n` is given.
    func listedInstallations(withGoneNamespaces: Bool) throws -> [ListedInstallation] {
        try requireReadablePins()
        if let name = netns, !NetworkNamespace.exists(name: name),
           case let leftovers = NamespaceLeftovers.installations(ofNamespace: name), !leftovers.isEmpty {
            return leftovers.map { ListedInstallation(namespace: name, installation: $0) }
        }
        try enterNetworkNamespace()
        var listed = HookInstallation.all(root: pinRoot).map { ListedInstallation(namespace: nil, installation: $0) }
        if netns == nil && withGoneNamespaces {
            for name in NamespaceLeftovers.goneNamespaces() {
                listed += NamespaceLeftovers.installations(ofNamespace: name).map { ListedInstallation(namespace: name, installation: $0) }
            }
        }
        return listed
    }
}
