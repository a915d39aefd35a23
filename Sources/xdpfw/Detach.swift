import ArgumentParser
import EBPF
import Firewall
import Kernel

/// `xdpfw detach`: remove the rules from an interface.
struct Detach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the rules xdpfw attached to an interface, and their pins.",
        discussion: """
            Without --hook, removes xdpfw's program from every hook of the interface. Programs \
            attached by other tools are left alone. With -n NAME of a network namespace that was \
            deleted (its interfaces and programs went with it), removes the pins xdpfw left for the \
            interface (`xdpfw status` lists such leftovers).

            Examples:
              xdpfw detach eth0
              xdpfw detach eth0 --hook tc-ingress
              xdpfw -n blue detach veth1         # also after `ip netns del blue`
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Option(help: ArgumentHelp("Only this hook.", valueName: "hook"))
    var hook: Hook?

    func run() throws {
        if try removeLeftoversOfGoneNamespace() { return }
        try global.enterNetworkNamespace()
        let lock = try RunLocks.rulesChange { Output.standardError("xdpfw: waiting for another xdpfw apply or detach to finish\n") }
        defer { lock.release() }
        let hooks = hook.map { [$0] } ?? Hook.allCases
        let detached = try AttachedRuleset.detach(interface: interface, hooks: hooks, pinRoot: global.pinRoot) {
            Output.standardOutput("detached \(interface) \($0.rawValue)\n")
        }
        guard detached else { throw CommandFailure.noRules(at: interface, hook: hook) }
        global.removeEmptyPinRoot()
    }

    /// With `-n NAME` of a namespace that no longer exists, its interfaces went with it (and their
    /// programs): unpins what xdpfw left for the interface. False when there is nothing to do here.
    private func removeLeftoversOfGoneNamespace() throws -> Bool {
        guard let name = global.netns, !NetworkNamespace.exists(name: name),
              !NamespaceLeftovers.installations(ofNamespace: name).isEmpty else { return false }
        let lock = try RunLocks.rulesChange { Output.standardError("xdpfw: waiting for another xdpfw apply or detach to finish\n") }
        defer { lock.release() }
        let removed = try NamespaceLeftovers.remove(interface: interface, hook: hook, ofNamespace: name)
        guard !removed.isEmpty else {
            let which = hook.map { " at \($0.rawValue)" } ?? ""
            throw CommandFailure("network namespace '\(name)' no longer exists and has no xdpfw pins for \(interface)\(which) (see `xdpfw status`)")
        }
        for hook in removed {
            Output.standardOutput("removed the pins of \(interface) \(hook.rawValue) (network namespace '\(name)' no longer exists)\n")
        }
        global.removeEmptyPinRoot()
        return true
    }
}
