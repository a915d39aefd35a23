import EBPF
import Kernel

/// A verb failed: the message goes to standard error after `xdpfw: `, and the process exits with
/// `status` (1 unless said otherwise). Multi-line messages (rendered rule errors) keep their lines.
public struct CommandFailure: Error {
    public var message: String
    public var status: Int32 = 1

    public init(_ message: String, status: Int32 = 1) {
        self.message = message
        self.status = status
    }

    /// The verbs' answer when xdpfw has no rules at `interface` (at `hook`, when one is named).
    public static func noRules(at interface: String, hook: Hook?) -> CommandFailure {
        CommandFailure("\(interface) has no xdpfw rules\(hook.map { " at \($0.rawValue)" } ?? "") (see `xdpfw status`)")
    }

    /// `--json` about one interface prints one object: that is the contract scripts rely on (a
    /// shape that changed with what is attached would break them). With rules at several of
    /// `hooks` there, `stats` and `set list` refuse and ask for one.
    public static func requireOneHookForJSON(at interface: String, _ hooks: [Hook]) throws(CommandFailure) {
        if hooks.count > 1 { throw severalHooks(at: interface, hooks, when: "with --json") }
    }

    /// The verbs' answer (a usage error) when they need one hook at `interface` and xdpfw has
    /// rules at several: `log` always, `stats` and `set list` `when` "with --json".
    public static func severalHooks(at interface: String, _ hooks: [Hook], when condition: String? = nil) -> CommandFailure {
        let names = hooks.map(\.rawValue)
        return CommandFailure("\(interface) has xdpfw rules at \(names.joined(separator: " and ")): "
                              + (condition.map { "\($0), " } ?? "") + "pick one with --hook \(names.joined(separator: "|"))", status: 2)
    }
}
