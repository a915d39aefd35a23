import ArgumentParser
import FilterLanguage
import Firewall
import Foundation
import Kernel

/// The `xdpfw` command: the verbs, the global `-n NAME`, and how errors become exit statuses.
struct XDPFW: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xdpfw",
        abstract: "A packet-filter firewall: tcpdump filter expressions compiled to eBPF and attached at XDP or TC.",
        discussion: """
            Rules are pcap-filter expressions, the language of tcpdump. A rules file lists them, first \
            match wins:

              # /etc/xdpfw/rules.conf
              policy pass                        # what happens when no rule matches
              drop tcp dst port 22 and not src net 10.0.0.0/8
              drop udp and (port 53 or \\
                            port 123)            # a trailing backslash continues the line

            Typical use:
              xdpfw check rules.conf             # compile and verify, attach nothing
              xdpfw apply rules.conf eth0        # attach at XDP (or replace what is there)
              xdpfw stats eth0                   # packets and bytes per rule
              xdpfw log eth0                     # dropped packets, live
              xdpfw detach eth0
              xdpfw compile -d tcp port 80       # same text as tcpdump -d tcp port 80

            Shell completions: xdpfw --generate-completion-script bash|zsh|fish prints the script \
            (scripts/install puts them where the shells look; see also man xdpfw).

            Exit status: 0 success, 1 an error (bad rules, kernel refused, interface not found...), \
            2 a usage error (unknown option, missing argument). Errors go to standard error as \
            "xdpfw: ...".
            """,
        version: "0.1.0",
        subcommands: [Compile.self, Check.self, Apply.self, Detach.self, Stats.self, Status.self, Show.self, Metrics.self, Exporter.self, Log.self,
                      Test.self, Bench.self, SetCommand.self, Demo.self]
    )

    @Option(name: [.customShort("n"), .customLong("netns")],
            help: ArgumentHelp("Work inside the network namespace NAME (as `ip -n NAME`).",
                               discussion: "Give it before the verb: xdpfw -n blue stats. Only the network namespace is entered, so bpffs pins stay visible.",
                               valueName: "name"))
    var netns: String?
}

extension XDPFW {
    /// Parses the command line, runs the verb, and exits: 0 on success, 1 when the verb failed,
    /// 2 when the command line itself was wrong. Help and --version go to standard output.
    static func runAndExit() -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let repeated = UsageChecks.repeatedOption(in: arguments) {
            Output.standardError("xdpfw: \(repeated)\n")
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let failure as CommandFailure {
            // Input quoted in a message is shown escaped, never as bytes a terminal acts on.
            Output.standardError("xdpfw: \(TerminalText.escaped(failure.message))\n")
            Foundation.exit(failure.status)
        } catch let error as KernelError {
            Output.standardError("xdpfw: \(TerminalText.escaped(error.description))\n")
            Foundation.exit(1)
        } catch {
            // ArgumentParser's own outcomes: help and --version (success), usage errors.
            let code = exitCode(for: error)
            if code == .success {
                Output.standardOutput(fullMessage(for: error) + "\n")
                Foundation.exit(0)
            }
            if code == .validationFailure {
                Output.standardError(usageMessage(for: UsageChecks.unknownOption(in: arguments, of: XDPFW.self, after: error) ?? error))
                Foundation.exit(2)
            }
            Output.standardError("xdpfw: \(TerminalText.escaped(message(for: error)))\n")
            Foundation.exit(1)  // scripts see only 0, 1 and 2
        }
    }

    /// Moves this thread into the namespace given with `-n`, for good: the verbs run on it, and
    /// interface lookups, netlink and sockets made afterwards act inside the namespace.
    func enterNetworkNamespace() throws {
        guard let netns else { return }
        guard NetworkNamespace.exists(name: netns) else {
            throw CommandFailure("network namespace '\(netns)' not found (see `ip netns list`)")
        }
        try NetworkNamespace.enter(name: netns)
    }

    /// Where the pins for this namespace live: the default namespace's under /sys/fs/bpf/xdpfw,
    /// a named namespace's under /sys/fs/bpf/xdpfw/netns/NAME (interface names repeat across
    /// namespaces; bpffs is shared by all of them).
    var pinRoot: String { netns.map(PinDirectory.root(forNamespace:)) ?? PinDirectory.defaultRoot }

    /// The pins xdpfw reads (`stats`, `status`) are on a root-only file system: say so rather than
    /// report that nothing is attached.
    func requireReadablePins() throws {
        let mountPoint = BPFFileSystem.mountPoint
        if FileManager.default.fileExists(atPath: mountPoint) && !FileManager.default.isReadableFile(atPath: mountPoint) {
            throw CommandFailure("cannot read \(mountPoint): permission denied (run as root)")
        }
    }

    /// After the last detach in a named namespace, its pin root goes too (only when empty).
    func removeEmptyPinRoot() {
        guard netns != nil else { return }
        AttachedRuleset.removeEmptyPinRoot(pinRoot)
    }

    /// ArgumentParser's message ("Error: Missing expected argument...", the usage line) with the
    /// `xdpfw: ` prefix every other error has.
    private static func usageMessage(for error: Error) -> String {
        var text = fullMessage(for: error)
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        // "Unknown option" → "unknown option", as the other messages read after "xdpfw: ".
        if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
            text = first.lowercased() + text.dropFirst()
        }
        return "xdpfw: " + TerminalText.escaped(text) + (text.hasSuffix("\n") ? "" : "\n")
    }
}
