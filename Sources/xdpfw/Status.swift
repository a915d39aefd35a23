import ArgumentParser
import EBPF
import Firewall
import Kernel
import Ruleset

/// `xdpfw status`: what xdpfw has attached where, as the kernel sees it now.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which interfaces and hooks have xdpfw rules attached.",
        discussion: """
            Lists every interface and hook with pinned xdpfw rules: whether the kernel runs them \
            (state), the program id, how many programs the rules run as (more than 1 when a ruleset \
            too big for the verifier is split into programs chained by tail calls), how XDP is \
            attached, the rules and policy, and the rules file. The state is asked of the kernel \
            every time: "attached", "interface gone" (deleted, or deleted and re-created: the rules \
            went with it) or "not attached". Pins left by network namespaces that were deleted are \
            listed too (`xdpfw -n NAME detach IFACE` removes them). With --json, prints an array of \
            objects, one per installation:

              {"interface": "veth0", "hook": "xdp", "mode": "native", "xdp_buffers": "single", "program_id": 42,
               "programs": 1, "rules": 3, "policy": "pass", "file": "rules.conf",
               "state": "attached"}

            ("netns" is added for pins of a deleted namespace, "reason" when the state is not \
            "attached"; "mode" and "program_id" are null unless attached; "xdp_buffers" is \
            "single" or "multi" at XDP (see apply), null at TC.)
            """)

    @ParentCommand var global: XDPFW

    @Flag(help: "Print a JSON array for scripts, one object per interface and hook.")
    var json = false

    func run() throws {
        let installations = try global.listedInstallations(withGoneNamespaces: true)
        if json {
            Output.standardOutput(JSON.array(installations.map { Status.json($0.installation, namespace: $0.namespace) }).text + "\n")
            return
        }
        guard !installations.isEmpty else {
            Output.standardOutput("no xdpfw rules attached\n")
            return
        }
        var rows = [["interface", "hook", "state", "program", "programs", "mode", "rules", "policy", "file"]]
        var notes = ""
        for listed in installations {
            let namespace = listed.namespace, installation = listed.installation
            let rules = Status.rules(of: installation)
            let interface = namespace.map { "\(installation.interface) (netns \($0))" } ?? installation.interface
            rows.append([interface, installation.hook.rawValue,
                         installation.isAttached ? "attached" : installation.state.rawValue.uppercased(),
                         installation.attachedProgramID.map { String($0) } ?? "-",
                         String(AttachedRuleset.programCount(of: installation)),
                         installation.xdpMode?.rawValue ?? "-",
                         rules.map { String($0.rules.count) } ?? "?",
                         rules?.policy.rawValue ?? "?",
                         AttachedRuleset.file(of: installation)])
            if let reason = installation.stateReason {
                let netns = namespace.map { "-n \($0) " } ?? ""
                notes += "\(interface) \(installation.hook.rawValue): \(installation.state.rawValue): \(reason); the rules are not in force "
                    + "(`xdpfw \(netns)detach \(installation.interface) --hook \(installation.hook.rawValue)` removes the pins)\n"
            }
        }
        Output.standardOutput(TextTable.render(rows, leftAligned: [0, 1, 2, 5, 7, 8]) + (notes.isEmpty ? "" : "\n" + notes))
    }

    /// One installation as `status --json` prints it.
    static func json(_ installation: HookInstallation, namespace: String?) -> JSON {
        let rules = Status.rules(of: installation)
        var members: [(String, JSON)] = [
            ("interface", .string(installation.interface)),
            ("hook", .string(installation.hook.rawValue)),
            ("mode", installation.xdpMode.map { .string($0.rawValue) } ?? .null),
            ("xdp_buffers", installation.record[AttachedRuleset.xdpBuffersKey].map { .string($0) } ?? .null),
            ("program_id", installation.attachedProgramID.map { .unsigned(UInt64($0)) } ?? .null),
            ("programs", .integer(Int64(AttachedRuleset.programCount(of: installation)))),
            ("rules", rules.map { .integer(Int64($0.rules.count)) } ?? .null),
            ("policy", rules.map { .string($0.policy.rawValue) } ?? .null),
            ("file", .string(AttachedRuleset.file(of: installation))),
            ("state", .string(installation.state.rawValue)),
        ]
        if let reason = installation.stateReason { members.append(("reason", .string(reason))) }
        if let namespace { members.append(("netns", .string(namespace))) }
        return .object(members)
    }

    /// The pinned ruleset, parsed (nil when its text is missing or unreadable).
    static func rules(of installation: HookInstallation) -> RulesFile? {
        installation.rulesetText.flatMap { try? RulesFile.parse($0, file: AttachedRuleset.file(of: installation)) }
    }
}
