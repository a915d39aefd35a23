import ArgumentParser
import EBPF
import Firewall
import Kernel

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
