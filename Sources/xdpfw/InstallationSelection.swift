import EBPF
import Firewall
import Kernel

extension XDPFW {
    /// The installations of the namespace in view (entered here) at `interface` (every interface
    /// when nil) and `hook` (every hook when nil). Naming an interface that has none is an error.
    func installations(at interface: String?, hook: Hook?) throws -> [HookInstallation] {
        try enterNetworkNamespace()
        try requireReadablePins()
        return try Self.select(HookInstallation.all(root: pinRoot), interface: interface, hook: hook)
    }

    /// Those of `installations` at `interface` and `hook` (nil: any); naming an interface that
    /// has none there is an error.
    static func select(_ installations: [HookInstallation], interface: String?, hook: Hook?) throws -> [HookInstallation] {
        let selected = installations.filter { (interface == nil || $0.interface == interface) && (hook == nil || $0.hook == hook) }
        if let interface, selected.isEmpty {
            throw CommandFailure.noRules(at: interface, hook: hook)
        }
        return selected
    }
}
