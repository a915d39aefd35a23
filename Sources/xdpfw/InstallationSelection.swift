import Kernel

extension XDPFW {
    /// The installations of the namespace in view (entered here) at `interface` (every interface
    /// when nil) and `hook` (every hook when nil). Naming an interface that has none is an error.
    func installations(at interface: String?, hook: AttachPoint?) throws -> [HookInstallation] {
        try enterNetworkNamespace()
        try requireReadablePins()
        let installations = HookInstallation.all(root: pinRoot)
            .filter { (interface == nil || $0.interface == interface) && (hook == nil || $0.hook == hook) }
        if let interface, installations.isEmpty {
            throw CommandFailure("\(interface) has no xdpfw rules\(hook.map { " at \($0.rawValue)" } ?? "") (see `xdpfw status`)")
        }
        return installations
    }
}
