import ArgumentParser
import Kernel

/// `xdpfw detach`: remove the rules from an interface.
struct Detach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the rules xdpfw attached to an interface, and their pins.",
        discussion: """
            Without --hook, removes xdpfw's program from every hook of the interface. Programs \
            attached by other tools are left alone.

            Examples:
              xdpfw detach eth0
              xdpfw detach eth0 --hook tc-ingress
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Option(help: ArgumentHelp("Only this hook.", valueName: "hook"))
    var hook: AttachPoint?

    func run() throws {
        try global.enterNetworkNamespace()
        let lock = try LockFile.acquire { Output.standardError("xdpfw: waiting for another xdpfw apply or detach to finish\n") }
        defer { lock.release() }
        let hooks = hook.map { [$0] } ?? AttachPoint.allCases
        var detached = false
        for hook in hooks where try HookInstaller.detach(interface: interface, hook: hook, root: global.pinRoot) {
            Output.standardOutput("detached \(interface) \(hook.rawValue)\n")
            detached = true
        }
        guard detached else {
            let which = hook.map { " at \($0.rawValue)" } ?? ""
            throw CommandFailure("\(interface) has no xdpfw rules\(which) (see `xdpfw status`)")
        }
        global.removeEmptyPinRoot()
    }
}
