import EBPF
import Firewall
import Kernel
import Ruleset

/// `apply --dry-run`: the rules file compiled and loaded through the verifier (then let go), and
/// what applying it would change against the rules in force, diff-style: `-` lines for rules
/// removed, `+` lines for rules added, then the policy and the sets.
enum DryRun {
    static func report(_ ruleset: Ruleset, file: String, interface: String, hook: Hook, pinRoot: String) throws {
        _ = try NetworkInterface(name: interface)
        let loaded = try LoadedRuleset.load(ruleset, hook: hook.kind)
        let instructions = loaded.instructionCount
        loaded.close()
        let before = HookInstallation.find(interface: interface, hook: hook, root: pinRoot)
        let old = try before.map { installation -> RulesFile in
            guard let text = installation.rulesetText else {
                throw CommandFailure("\(installation.directory.path): the ruleset text is missing; apply the rules again")
            }
            return try RulesFile.parse(text, file: AttachedRuleset.file(of: installation))
        }
        let new = ruleset.rules.map(\.text)
        let change = RulesetChange(old: old?.rules ?? [], oldPolicy: old?.policy ?? ruleset.policy, oldSets: old?.sets ?? [:],
                                   new: new, newPolicy: ruleset.policy, newSets: ruleset.sets)
        var lines: [String] = []
        let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
        if let before, let old {
            let inForce = old.rules.count == 1 ? "1 rule" : "\(old.rules.count) rules"
            lines.append("dry run: \(file) would replace \(AttachedRuleset.file(of: before)) on \(interface) \(hook.rawValue) "
                         + "(\(inForce), policy \(old.policy.rawValue) in force; \(count), policy \(ruleset.policy.rawValue), "
                         + "\(instructions) instructions verified)")
            for index in change.removed { lines.append("- rule \(index + 1), line \(old.rules[index].line): " + describe(old.rules[index])) }
        } else {
            lines.append("dry run: \(file) would attach to \(interface) \(hook.rawValue), where xdpfw has no rules "
                         + "(\(count), policy \(ruleset.policy.rawValue), \(instructions) instructions verified)")
        }
        for index in change.added { lines.append("+ rule \(index + 1), line \(new[index].line): " + describe(new[index])) }
        if let old, change.policyChanged { lines.append("policy \(old.policy.rawValue) -> \(ruleset.policy.rawValue)") }
        for set in change.sets {
            var parts: [String] = []
            if !set.added.isEmpty { parts.append("+\(set.added.count) (\(sample(set.added)))") }
            if !set.removed.isEmpty { parts.append("-\(set.removed.count) (\(sample(set.removed)))") }
            lines.append("set \(set.name): " + parts.joined(separator: ", "))
        }
        if before != nil {
            lines.append(change.isEmpty ? "no change; nothing attached"
                         : "\(change.kept.count) kept (their counters carry over), \(change.removed.count) removed, "
                           + "\(change.added.count) added; nothing attached")
        } else {
            lines.append("nothing attached")
        }
        Output.standardOutput(lines.joined(separator: "\n") + "\n")
    }

    static func describe(_ rule: RuleText) -> String { "\(rule.verdict.rawValue) \(rule.expression)" }

    /// The first few entries of a list, for one line.
    static func sample(_ entries: [String]) -> String {
        entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", ..." : "")
    }
}
