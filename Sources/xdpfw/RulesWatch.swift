import FilterLanguage
import Firewall
import Foundation
import Kernel

/// `apply --watch`: applies a rules file, then applies it again whenever it changes, until
/// SIGTERM or SIGINT. Watches the folders of the path as given and of the file it resolves to,
/// so a rename over the file and a Kubernetes ConfigMap's `..data` symlink swap are seen alike.
/// A version that fails is reported and the rules in force stay.
struct RulesWatch {
    var apply: Apply

    /// How long a burst of changes (an editor's save, a ConfigMap update) may go on before the
    /// file is read: it is read once the folder is quiet for `quietMilliseconds`, or after
    /// `settleRounds` of them at most.
    static let quietMilliseconds: Int32 = 100
    static let settleRounds = 20

    func run() throws {
        try apply.global.enterNetworkNamespace()
        StopSignal.install([SIGTERM, SIGINT])
        let watch = try DirectoryWatch()
        // Watch before the first read, so a change made while it is applied is not missed.
        try watchFolders(watch)
        var inForce = try apply.prepare()
        try apply.attach(inForce, resetCounters: apply.resetCounters)
        let stop = apply.detachOnExit ? "detaches them" : "leaves them in force"
        Output.standardError("xdpfw: watching \(apply.rules) for changes (SIGTERM stops and \(stop))\n")
        while StopSignal.received == 0 {
            guard watch.waitForChange(milliseconds: 1000) else { continue }
            var rounds = 1
            while rounds < Self.settleRounds && watch.waitForChange(milliseconds: Self.quietMilliseconds) { rounds += 1 }
            do {
                // The file may now resolve to a new folder (a new ConfigMap version): watch it too.
                try watchFolders(watch)
                let next = try apply.prepare()
                guard next.pinnedText != inForce.pinnedText else { continue }
                try apply.attach(next, resetCounters: false)
                inForce = next
            } catch {
                Output.standardError("xdpfw: \(TerminalText.escaped(Self.message(for: error)))\n"
                                     + "xdpfw: \(apply.rules) not applied: the rules in force stay\n")
            }
        }
        if apply.detachOnExit { try detach() }
    }

    /// The folder of the path as given, and of the file it resolves to through symlinks.
    private func watchFolders(_ watch: DirectoryWatch) throws {
        let given = (apply.rules as NSString).deletingLastPathComponent
        do {
            try watch.watch(given.isEmpty ? "." : given)
        } catch KernelError.notFound {
            throw CommandFailure("\(apply.rules): no such file (the folder \(given) does not exist)")
        }
        let resolved = URL(fileURLWithPath: apply.rules).resolvingSymlinksInPath().deletingLastPathComponent().path
        try? watch.watch(resolved)  // absent while the file is missing; the given folder is enough then
    }

    private func detach() throws {
        let lock = try RunLocks.rulesChange { Output.standardError("xdpfw: waiting for another xdpfw apply or detach to finish\n") }
        defer { lock.release() }
        if try HookInstaller.detach(interface: apply.interface, hook: apply.hook, root: apply.global.pinRoot) {
            Output.standardOutput("detached \(apply.interface) \(apply.hook.rawValue)\n")
        }
        apply.global.removeEmptyPinRoot()
    }

    private static func message(for error: Error) -> String {
        switch error {
        case let failure as CommandFailure: return failure.message
        case let error as KernelError: return error.description
        default: return "\(error)"
        }
    }
}
