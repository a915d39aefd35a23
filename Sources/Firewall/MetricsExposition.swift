import Foundation
import Kernel
import Ruleset

/// The counters of attached rulesets in Prometheus' text exposition format (0.0.4): what
/// `xdpfw metrics` prints and `xdpfw exporter` serves. Samples grouped by metric, each metric with
/// its HELP and TYPE lines once, in a fixed order.
public struct MetricsExposition {
    private static let families: [(name: String, type: String, help: String)] = [
        ("xdpfw_rule_packets_total", "counter", "Packets the rule decided (its expression matched first) since the ruleset was applied."),
        ("xdpfw_rule_bytes_total", "counter", "Bytes of the packets the rule decided since the ruleset was applied."),
        ("xdpfw_rule_info", "gauge", "The rule's expression, as a label; always 1."),
        ("xdpfw_policy_packets_total", "counter", "Packets no rule matched, decided by the ruleset's policy."),
        ("xdpfw_policy_bytes_total", "counter", "Bytes of the packets no rule matched."),
        ("xdpfw_ruleset_rules", "gauge", "Rules in the ruleset."),
        ("xdpfw_ruleset_attached", "gauge", "1 when the kernel runs the ruleset at the hook, 0 when not (interface gone, detached by someone else)."),
        ("xdpfw_ruleset_applied_timestamp_seconds", "gauge", "When the ruleset was applied (loaded), in seconds since the Unix epoch."),
        ("xdpfw_set_entries", "gauge", "Entries in a named set of the ruleset."),
    ]

    private var samples: [String: [String]] = [:]

    /// The samples of `installations`, their counters read now.
    public init(_ installations: [HookInstallation]) throws {
        for installation in installations {
            add(installation, statistics: try AttachedRuleset.statistics(of: installation))
        }
    }

    private mutating func add(_ installation: HookInstallation, statistics: HookStatistics) {
        let hook = [("interface", statistics.interface), ("hook", statistics.hook)]
        for (rule, counter) in statistics.rules {
            let labels = hook + [("rule", String(rule.number)), ("line", String(rule.line)), ("verdict", rule.verdict.rawValue)]
            sample("xdpfw_rule_packets_total", labels, String(counter.packets))
            sample("xdpfw_rule_bytes_total", labels, String(counter.bytes))
            sample("xdpfw_rule_info", hook + [("rule", String(rule.number)), ("expression", rule.expression)], "1")
        }
        let policy = hook + [("verdict", statistics.policy.rawValue)]
        sample("xdpfw_policy_packets_total", policy, String(statistics.policyCounter.packets))
        sample("xdpfw_policy_bytes_total", policy, String(statistics.policyCounter.bytes))
        sample("xdpfw_ruleset_rules", hook, String(statistics.rules.count))
        sample("xdpfw_ruleset_attached", hook, installation.isAttached ? "1" : "0")
        if let program = installation.program {
            sample("xdpfw_ruleset_applied_timestamp_seconds", hook, String(format: "%.3f", program.loadedAtUnixTime))
        }
        if let text = installation.rulesetText, let rules = try? RulesFile.parse(text, file: statistics.file) {
            for (name, entries) in rules.sets.sorted(by: { $0.key < $1.key }) {
                sample("xdpfw_set_entries", hook + [("set", name)], String(entries.count))
            }
        }
    }

    private mutating func sample(_ metric: String, _ labels: [(String, String)], _ value: String) {
        let text = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
        samples[metric, default: []].append("\(metric){\(text)} \(value)")
    }

    /// The exposition: every metric with samples, its HELP and TYPE lines first.
    public var text: String {
        Self.families.compactMap { family in
            guard let lines = samples[family.name] else { return nil }
            return "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
                + lines.joined(separator: "\n") + "\n"
        }.joined()
    }

    /// A label value as the exposition format writes it: backslash, double quote and newline escaped.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
