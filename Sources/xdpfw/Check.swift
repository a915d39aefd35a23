import ArgumentParser
import EBPF
import Firewall
import Ruleset

/// `xdpfw check`: everything `apply` does except attaching.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a rules file: parse, compile, and load it through the kernel's verifier, attaching nothing.",
        discussion: """
            Every problem is reported as file:line:column with the line and a caret under the place; \
            the exit status is 0 only when `xdpfw apply` would accept the file.

            A rule that can never match (an earlier rule matches every packet it does, or it \
            duplicates one) gets a warning on standard error, `file:line: warning: ...`, and the \
            exit status stays 0 (1 with --strict). Such rules are found where rules decompose \
            into addresses, protocols and ports; other rules are only compared by their text. \
            The first \(Check.shownWarnings) warnings are printed, in rule order, then one line saying \
            how many more there are; --all-warnings prints every one.

            Example:
              xdpfw check /etc/xdpfw/rules.conf && xdpfw apply /etc/xdpfw/rules.conf eth0
            """)

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Option(help: ArgumentHelp("Verify only the program for this hook (default: both).", valueName: "hook"))
    var hook: Hook.Kind?

    @Flag(help: "Exit with status 1 when there are warnings (rules that never match).")
    var strict = false

    @Flag(help: "Print every warning (default: the first \(Check.shownWarnings), then how many more there are).")
    var allWarnings = false

    /// How many warnings `check` prints without --all-warnings: a file of thousands of generated
    /// rules can have thousands, which would bury the summary.
    static let shownWarnings = 20

    func run() throws {
        let ruleset = try RulesInput.ruleset(at: rules)
        // Placed and compiled once: both hooks load these segments, and the placement printed is theirs.
        let spec = RulesetSpec(ruleset)
        // The warnings and each hook's load are independent: they run side by side on the cores
        // (10,000 IP-chain rules: 4.4 s one after the other on two cores).
        let hooks = hook.map { [$0] } ?? Hook.Kind.allCases
        // Index hooks.count: the warnings.
        let outcomes = ParallelRun.map(Array(0...hooks.count)) { index -> CheckOutcome in
            guard index < hooks.count else { return .warnings(RuleShadowing.warnings(ruleset)) }
            return .load(Result {
                let program = try LoadedRuleset.load(spec, hook: hooks[index])
                defer { program.close() }
                let programs = program.programCount == 1 ? "" : " in \(program.programCount) programs"
                return "\(hooks[index].rawValue) \(program.instructionCount) instructions\(programs)"
            })
        }
        let warnings = outcomes.flatMap { outcome -> [RuleWarning] in if case let .warnings(found) = outcome { found } else { [] } }
        Output.standardError(Self.warningText(warnings, file: ruleset.file, limit: allWarnings ? nil : Self.shownWarnings))
        // In hook order: the first hook that failed decides the error, as when they ran in turn.
        let loaded = try outcomes.compactMap { outcome -> String? in if case let .load(result) = outcome { try result.get() } else { nil } }
        let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
        Output.standardOutput("\(ruleset.file): \(count), policy \(ruleset.policy.rawValue): OK "
                              + "(verifier accepted \(loaded.joined(separator: ", ")))\n")
        // Where a classifier takes rules: how many, and why the others stay filters or lookups.
        let placement = spec.placement
        if placement.classifiers > 0 {
            let classifiers = placement.classifiers == 1 ? "1 packet classifier" : "\(placement.classifiers) packet classifiers"
            let parts = placement.parts == 1 ? "" : " (in \(placement.parts) runs between other rules)"
            var text = "\(ruleset.file): \(placement.classifiedRules) of \(ruleset.rules.count) rules in \(classifiers)\(parts)\n"
            for (reason, indexes) in placement.elsewhere {
                let lines = indexes.prefix(5).map { String(ruleset.rules[$0].text.line) }.joined(separator: ", ")
                text += "  \(indexes.count) not: \(reason.explanation) (line\(indexes.count == 1 ? "" : "s") \(lines)\(indexes.count > 5 ? ", …" : ""))\n"
            }
            Output.standardOutput(text)
        }
        if strict && !warnings.isEmpty {
            let count = warnings.count == 1 ? "1 warning" : "\(warnings.count) warnings"
            throw CommandFailure("\(ruleset.file): \(count), and --strict makes warnings errors")
        }
    }
}

extension Check {
    /// The warnings as printed: the first `limit` (all when nil), in rule order, then a line
    /// saying how many were left out and how to see them.
    static func warningText(_ warnings: [RuleWarning], file: String, limit: Int?) -> String {
        let shown = limit.map { warnings.prefix($0) } ?? warnings[...]
        var text = shown.map { $0.message(file: file) + "\n" }.joined()
        let hidden = warnings.count - shown.count
        if hidden > 0 {
            text += "\(file): \(hidden) more warning\(hidden == 1 ? "" : "s") not shown (\(warnings.count) in all; --all-warnings prints them all)\n"
        }
        return text
    }
}

/// What one of `check`'s concurrent jobs found: the warnings, or a hook's load summary or error.
private enum CheckOutcome: Sendable {
    case warnings([RuleWarning])
    case load(Result<String, any Error>)
}
