import ArgumentParser
import Kernel
import Ruleset

/// `xdpfw status`: what xdpfw has attached where.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which interfaces and hooks have xdpfw rules attached.",
        discussion: "Lists every interface and hook with pinned xdpfw rules: the rules file, its policy, how many rules, the program id, how many programs the rules run as (more than 1 when a ruleset too big for the verifier is split into programs chained by tail calls) and how XDP is attached.")

    @ParentCommand var global: XDPFW

    func run() throws {
        try global.enterNetworkNamespace()
        try global.requireReadablePins()
        let installations = HookInstallation.all(root: global.pinRoot)
        guard !installations.isEmpty else {
            Output.standardOutput("no xdpfw rules attached\n")
            return
        }
        var rows = [["interface", "hook", "state", "program", "programs", "mode", "rules", "policy", "file"]]
        for installation in installations {
            let file = AttachedRuleset.file(of: installation)
            let rules = installation.rulesetText.flatMap { try? RulesFile.parse($0, file: file) }
            rows.append([installation.interface, installation.hook.rawValue,
                         installation.isAttached ? "attached" : "NOT ATTACHED (interface gone? xdpfw detach cleans up)",
                         installation.attachedProgramID.map { String($0) } ?? "-",
                         String(Self.programCount(installation)),
                         installation.xdpMode?.rawValue ?? "-",
                         rules.map { String($0.rules.count) } ?? "?",
                         rules?.policy.rawValue ?? "?",
                         file])
        }
        Output.standardOutput(TextTable.render(rows, leftAligned: [0, 1, 2, 5, 7, 8]))
    }

    /// How many programs the rules run as: the size of the pinned program array of a chained
    /// ruleset, 1 without one.
    static func programCount(_ installation: HookInstallation) -> Int {
        guard let chain = try? installation.map(named: PinDirectory.Entry.chunks) else { return 1 }
        defer { chain.close() }
        return chain.maxEntries
    }
}
