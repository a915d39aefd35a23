import ArgumentParser
import EBPF
import FilterLanguage
import Firewall
import Foundation
import Kernel
import Ruleset

/// `xdpfw apply`: compile, load, pin and attach a rules file, replacing what is attached.
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach a rules file to an interface, or atomically replace the rules attached there.",
        discussion: """
            The file is compiled, loaded through the kernel's verifier (its log is shown if it \
            refuses), pinned under /sys/fs/bpf/xdpfw/<interface>/<hook>/ and attached. If anything \
            fails, the rules already attached stay as they were. Concurrent apply and detach runs \
            wait for each other.

            Replacing rules keeps the counters of every rule whose verdict and expression are \
            unchanged (matched in order, as iptables-restore --counters does), and the policy's \
            when its verdict is unchanged; --reset-counters starts them all at 0.

            --dry-run compiles the file and loads it through the verifier, then prints what \
            would change against the rules in force (rules removed and added, by rule number and \
            line, the policy, set entries) and attaches nothing.

            --watch applies the file, then stays running and applies it again whenever it \
            changes: written in place, renamed over, or replaced by a symlink swap in its folder \
            (a Kubernetes ConfigMap volume's ..data). A version that does not compile or load is \
            reported on standard error (file:line:column) and the rules in force stay. SIGTERM or \
            SIGINT stops it and leaves the rules in force, unless --detach-on-exit.

            --mode chooses how XDP attaches: native (in the driver), generic (in the stack, works \
            everywhere), or auto (native when the driver can run the program, else generic: the \
            loopback and many virtual devices; a note on standard error says why native was refused).

            At XDP, the program reads frames in one buffer where the interface's MTU is at most \
            3000 bytes (the kernel then refuses to raise the MTU past a page until the rules are \
            detached), and frames continuing in fragments (multi-buffer, jumbo frames) above that \
            or with --multi-buffer, at a cost of a few ns per packet.

            Examples:
              xdpfw apply rules.conf eth0
              xdpfw apply rules.conf lo                  # generic mode: lo has no native XDP
              xdpfw apply --dry-run rules.conf eth0      # what would change; attaches nothing
              xdpfw apply --watch rules.conf eth0        # again on every change
              xdpfw apply rules.conf eth0 --hook tc-egress
              xdpfw -n blue apply rules.conf veth1 --mode generic
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Option(help: ArgumentHelp("Where to attach.", valueName: "hook"))
    var hook: Hook = .xdp

    @Option(help: ArgumentHelp("How XDP attaches (see above).", valueName: "mode"))
    var mode: XDPMode = .auto

    @Flag(help: "At XDP, load a multi-buffer program whatever the MTU (so that it can be raised to jumbo frames later).")
    var multiBuffer = false

    @Flag(help: "Start every counter at 0 (by default a rule whose verdict and expression are unchanged keeps its counters).")
    var resetCounters = false

    @Flag(help: "Compile and verify, then print what would change against the rules in force; attach nothing.")
    var dryRun = false

    @Flag(help: "Stay running and apply the file again whenever it changes (see above).")
    var watch = false

    @Flag(help: "With --watch: detach the rules when stopped (by default they stay in force).")
    var detachOnExit = false

    func validate() throws {
        if hook != .xdp && mode != .auto { throw ValidationError("--mode is for --hook xdp only") }
        if hook != .xdp && multiBuffer { throw ValidationError("--multi-buffer is for --hook xdp only") }
        if watch && rules == "-" { throw ValidationError("--watch needs a rules file, not standard input") }
        if watch && dryRun { throw ValidationError("--watch and --dry-run cannot be used together") }
        if detachOnExit && !watch { throw ValidationError("--detach-on-exit is for --watch only") }
    }

    func run() throws {
        if watch {
            try RulesWatch(apply: self).run()
            return
        }
        let prepared = try prepare()
        try global.enterNetworkNamespace()
        if dryRun {
            try DryRun.report(prepared.ruleset, file: prepared.file, interface: interface, hook: hook, pinRoot: global.pinRoot)
            return
        }
        try attach(prepared, resetCounters: resetCounters)
    }

    /// A rules file read and compiled, not yet loaded.
    struct PreparedRules {
        var ruleset: Ruleset
        var file: String
        /// The text pinned beside the program: the file with the entries of its set files written out.
        var pinnedText: String
    }

    /// Reads and compiles the rules file; every problem is reported with its line and caret.
    func prepare() throws -> PreparedRules {
        let text = try RulesInput.text(of: rules)
        let file = RulesInput.fileName(of: rules)
        let ruleset = try RulesInput.ruleset(text: text, file: file, directory: RulesInput.directory(of: rules))
        // Sets read from files are pinned with their entries: the text says what runs.
        return PreparedRules(ruleset: ruleset, file: file, pinnedText: RulesFile.pinnedText(text, file: file, sets: ruleset.sets))
    }

    /// Loads and attaches compiled rules (or replaces those in force atomically) and says what it did.
    func attach(_ prepared: PreparedRules, resetCounters: Bool) throws {
        let lock = try RunLocks.rulesChange { Output.standardError("xdpfw: waiting for another xdpfw apply or detach to finish\n") }
        defer { lock.release() }
        let ruleset = prepared.ruleset
        let outcome = try AttachedRuleset.apply(ruleset, text: prepared.pinnedText, file: Apply.absolute(prepared.file), interface: interface,
                                                hook: hook, mode: mode, pinRoot: global.pinRoot, keepCounters: !resetCounters,
                                                multiBuffer: multiBuffer)
        if !outcome.replaced, let why = outcome.installation.record["native-refused"] {
            Output.standardError("xdpfw: \(why); attached in generic mode\n")
        }
        if !outcome.readsMetadataVLAN, let rule = outcome.ruleTestingVLANTags {
            let why = outcome.installation.xdpMode == .generic ? "in generic mode" : "where the program cannot be bound to the device"
            Output.standardError("xdpfw: note: rule \(rule.text.number) (line \(rule.text.line)) tests VLAN tags: at XDP a tag the "
                                 + "NIC strips (rx-vlan offload; see `ethtool -k \(interface) | grep rx-vlan`) is not seen \(why); "
                                 + "turn the offload off (`ethtool -K \(interface) rxvlan off`) or apply at --hook tc-ingress\n")
        }
        let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
        let how = outcome.installation.xdpMode.map { " (\($0.rawValue) mode)" } ?? ""
        let id = outcome.installation.attachedProgramID.map { ", program id \($0)" } ?? ""
        Output.standardOutput("\(outcome.replaced ? "replaced" : "attached") \(prepared.file) on \(interface) \(hook.rawValue)\(how): "
                              + "\(count), policy \(ruleset.policy.rawValue)\(id), \(outcome.instructions) instructions\n")
    }

    /// The rules file as an absolute path, so `status` names it wherever it is run from.
    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), path != "<stdin>" else { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}
