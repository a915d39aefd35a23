import ArgumentParser
import Ruleset

/// `xdpfw check`: everything `apply` does except attaching.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a rules file: parse, compile, and load it through the kernel's verifier, attaching nothing.",
        discussion: """
            Every problem is reported as file:line:column with the line and a caret under the place; \
            the exit status is 0 only when `xdpfw apply` would accept the file.

            Example:
              xdpfw check /etc/xdpfw/rules.conf && xdpfw apply /etc/xdpfw/rules.conf eth0
            """)

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Option(help: ArgumentHelp("Verify only the program for this hook (default: both).", valueName: "hook"))
    var hook: ProgramHook?

    func run() throws {
        let ruleset = try RulesInput.ruleset(at: rules)
        var loaded: [String] = []
        for hook in hook.map({ [$0] }) ?? ProgramHook.allCases {
            let program = try LoadedRuleset.load(ruleset, hook: hook)
            let programs = program.programCount == 1 ? "" : " in \(program.programCount) programs"
            loaded.append("\(hook.rawValue) \(program.instructionCount) instructions\(programs)")
            program.close()
        }
        let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
        Output.standardOutput("\(ruleset.file): \(count), policy \(ruleset.policy.rawValue): OK "
                              + "(verifier accepted \(loaded.joined(separator: ", ")))\n")
    }
}
