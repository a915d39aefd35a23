import ArgumentParser
import EBPF
import Firewall
import Foundation
import Kernel
import Ruleset

/// `xdpfw metrics`: the counters of every attached ruleset in Prometheus' text exposition format
/// (0.0.4), for node_exporter's textfile collector or any scraper.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the counters as Prometheus metrics (text exposition format 0.0.4).",
        discussion: """
            One sample per rule and per policy, with the labels scripts and dashboards group by, \
            read from the pins as `stats` reads them (the values are the same). For \
            node_exporter's textfile collector:

              xdpfw metrics > /var/lib/node_exporter/xdpfw.prom.$$ && \\
                mv /var/lib/node_exporter/xdpfw.prom.$$ /var/lib/node_exporter/xdpfw.prom

            Metrics:
              xdpfw_rule_packets_total{interface,hook,rule,line,verdict}    counter
              xdpfw_rule_bytes_total{interface,hook,rule,line,verdict}      counter
              xdpfw_rule_info{interface,hook,rule,expression}               1
              xdpfw_policy_packets_total{interface,hook,verdict}            counter
              xdpfw_policy_bytes_total{interface,hook,verdict}              counter
              xdpfw_ruleset_rules{interface,hook}                           gauge
              xdpfw_ruleset_attached{interface,hook}                        1 when the kernel runs it
              xdpfw_ruleset_applied_timestamp_seconds{interface,hook}       gauge (Unix time)
              xdpfw_set_entries{interface,hook,set}                         gauge

            A re-apply keeps the counters of rules whose verdict and expression are unchanged \
            (apply --reset-counters starts them all at 0); the applied timestamp tells when the \
            rules in force were applied.
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("Only this interface (default: every interface with xdpfw rules).", valueName: "interface"))
    var interface: String?

    @Option(help: ArgumentHelp("Only this hook.", valueName: "hook"))
    var hook: Hook?

    func run() throws {
        Output.standardOutput(try MetricsExposition(try global.installations(at: interface, hook: hook)).text)
    }
}

/// Samples grouped by metric, each metric with its HELP and TYPE lines once, in a fixed order.
struct MetricsExposition {
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
    init(_ installations: [HookInstallation]) throws {
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

    var text: String {
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
