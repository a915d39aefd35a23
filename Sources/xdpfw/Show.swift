import ArgumentParser
import EBPF
import Firewall
import Foundation
import Kernel

/// `xdpfw show`: the rules in force at an interface, as they were applied.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the rules in force at an interface, as they were applied.",
        discussion: """
            Prints, for each hook of the interface with xdpfw rules (or only --hook), a comment line \
            naming the rules file, when it was applied, the program and whether the kernel runs it, \
            followed by the rules file exactly as it was applied, comments included: sets read \
            from files are written out with their entries, and sets changed since by \
            `xdpfw set add|del` with their current entries. The output is a rules file: \
            `xdpfw show eth0 --hook xdp > rules.conf` applies again as it is.

            Example:
              xdpfw show eth0
              # eth0 xdp: /etc/xdpfw/rules.conf, applied 2026-12-04 16:40:12 UTC, program 102, attached (native mode)
              policy pass
              drop tcp dst port 22 and not src net 10.0.0.0/8
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Option(help: ArgumentHelp("Only this hook.", valueName: "hook"))
    var hook: Hook?

    func run() throws {
        let installations = try global.installations(at: interface, hook: hook)
        var sections: [String] = []
        for installation in installations {
            guard let text = installation.rulesetText else {
                throw CommandFailure("\(installation.directory.path): the ruleset text is missing; apply the rules again")
            }
            sections.append(Self.heading(installation) + "\n" + text + (text.hasSuffix("\n") || text.isEmpty ? "" : "\n"))
        }
        Output.standardOutput(sections.joined(separator: "\n"))
    }

    static func heading(_ installation: HookInstallation) -> String {
        var parts = [AttachedRuleset.file(of: installation)]
        if let program = installation.program {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
            parts.append("applied " + formatter.string(from: Date(timeIntervalSince1970: program.loadedAtUnixTime)))
        }
        if let id = installation.program?.id { parts.append("program \(id)") }
        parts.append(installation.isAttached
                     ? "attached" + (installation.xdpMode.map { " (\($0.rawValue) mode)" } ?? "")
                     : "NOT IN FORCE (\(installation.state.rawValue)): \(installation.stateReason ?? "?")")
        return "# \(installation.interface) \(installation.hook.rawValue): " + parts.joined(separator: ", ")
    }
}
