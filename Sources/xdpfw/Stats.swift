import ArgumentParser
import EBPF
import Firewall
import Kernel

/// `xdpfw stats`: packets and bytes per rule, read from the pinned counters.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show packets and bytes matched by each rule, per interface and hook.",
        discussion: """
            Reads the counters pinned under /sys/fs/bpf/xdpfw/. The last row of each table is the \
            policy: packets no rule matched. With --json and an interface, prints exactly one object; \
            when the interface has rules at several hooks, name one with --hook (else it is a usage \
            error, exit status 2). Without an interface, prints an array of these objects:

              {"interface": "veth0", "hook": "xdp",
               "policy": {"verdict": "pass", "packets": 0, "bytes": 0},
               "rules": [{"rule": 1, "line": 3, "verdict": "drop",
                          "expression": "...", "packets": 0, "bytes": 0}]}

            Examples:
              xdpfw stats
              xdpfw stats eth0 --json | jq '.rules[] | select(.packets > 0)'
              xdpfw -n blue stats veth1 --hook tc-ingress
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("Only this interface (default: every interface with xdpfw rules).", valueName: "interface"))
    var interface: String?

    @Option(help: ArgumentHelp("Only this hook.", valueName: "hook"))
    var hook: Hook?

    @Flag(help: "Print JSON for scripts: one object when an interface is named (with --hook if it has several), else an array.")
    var json = false

    func run() throws {
        let installations = try XDPFW.select(global.listedInstallations(withGoneNamespaces: false).map(\.installation),
                                             interface: interface, hook: hook)
        if json, let interface { try CommandFailure.requireOneHookForJSON(at: interface, installations.map(\.hook)) }
        let statistics = try installations.map { try AttachedRuleset.statistics(of: $0) }
        if json {
            let value: JSON = interface != nil ? statistics[0].json : .array(statistics.map(\.json))
            Output.standardOutput(value.text + "\n")
        } else if statistics.isEmpty {
            Output.standardOutput("no xdpfw rules attached\n")
        } else {
            Output.standardOutput(statistics.map(\.table).joined(separator: "\n"))
        }
    }
}
