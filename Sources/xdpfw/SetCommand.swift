import ArgumentParser
import EBPF
import Firewall
import Kernel
import Ruleset

/// `xdpfw set add|del|list`: the sets of the rules attached to an interface, changed while they
/// run: no new program, counters kept.
struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Add entries to, remove them from, or list a set of the rules attached to an interface.",
        usage: """
            xdpfw set add <interface> <name> <entry> ... [--hook <hook>]
            xdpfw set del <interface> <name> <entry> ... [--hook <hook>]
            xdpfw set list <interface> [<name>] [--hook <hook>] [--json]
            """,
        discussion: """
            A set (`set blocklist { 192.0.2.0/24, 2001:db8::1 }` in rules.conf, used as @blocklist) \
            changes at every xdpfw hook of the interface whose rules define it (or only at --hook), \
            without loading a new program and without resetting any counter. The lookup tables are \
            changed entry by entry to what `apply` would have filled them with for the new entries \
            (first match still wins), and the pinned rules text is rewritten with the set's entries \
            written out, so `stats`, `status` and `set list` describe what runs. The rules file on \
            disk is not changed: applying it again brings back its own entries. Entries compare by \
            what they mean: 192.0.2.1 and 192.0.2.1/32 are one entry.

            Only sets used where a rule is a lookup can change live: `[src|dst] net @set`, \
            `[src|dst] host @set`, either of them `and (tcp|udp) (src|dst) port N` (the port may \
            be a set too). A set used in any other rule is compiled into the program; changing it \
            is refused, naming the rule: edit the file and apply it. So is a prefix of a new \
            length in a table that runs as hash maps per prefix length (tables of at most three \
            lengths, the fastest lookup). If any entry is wrong, or any hook refuses, nothing \
            changes anywhere.

            Examples:
              xdpfw set add eth0 blocklist 198.51.100.0/24 2001:db8:bad::/48
              xdpfw set del eth0 blocklist 198.51.100.0/24
              xdpfw set list eth0 blocklist
              xdpfw -n blue set list veth1 --json
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case add, del, list
    }

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("add, del or list.", valueName: "action"))
    var action: Action

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Argument(help: ArgumentHelp("The set's name, as in `set NAME { ... }` (optional for list).", valueName: "name"))
    var name: String?

    @Argument(help: ArgumentHelp("Addresses, prefixes or ports to add or remove.", valueName: "entry"))
    var entries: [String] = []

    @Option(help: ArgumentHelp("Only at this hook (default: every xdpfw hook of the interface).", valueName: "hook"))
    var hook: Hook?

    @Flag(help: "list: print one JSON object, {\"interface\", \"hook\", \"sets\": [{\"name\", \"entries\": [...]}]} (with --hook if the interface has rules at several hooks).")
    var json = false

    func validate() throws {
        switch action {
        case .add, .del:
            guard name != nil, !entries.isEmpty else {
                throw ValidationError("'set \(action.rawValue)' needs an interface, a set's name and at least one entry")
            }
            if json { throw ValidationError("--json goes with 'set list'") }
        case .list:
            if !entries.isEmpty { throw ValidationError("'set list' takes an interface and at most one set's name") }
        }
    }

    func run() throws {
        try global.enterNetworkNamespace()
        try global.requireReadablePins()
        switch action {
        case .list: try list()
        case .add, .del: try change()
        }
    }

    /// The installations on the interface, each with its pinned rules read back.
    private func installations() throws -> [(installation: HookInstallation, text: String, file: String)] {
        let found = Hook.allCases.filter { hook == nil || $0 == hook }
            .compactMap { HookInstallation.find(interface: interface, hook: $0, root: global.pinRoot) }
        guard !found.isEmpty else {
            _ = try NetworkInterface(name: interface)  // no such interface: say so, as the other verbs do
            throw CommandFailure.noRules(at: interface, hook: hook)
        }
        return try found.map { installation in
            guard let text = installation.rulesetText else {
                throw CommandFailure("\(installation.directory.path): the ruleset text is missing; apply the rules again")
            }
            return (installation, text, AttachedRuleset.file(of: installation))
        }
    }

    private func list() throws {
        var objects: [JSON] = []
        var lines: [String] = []
        var found = false
        let installations = try installations()
        if json { try CommandFailure.requireOneHookForJSON(at: interface, installations.map(\.installation.hook)) }
        for (installation, text, file) in installations {
            let rules: RulesFile
            do { rules = try RulesFile.parse(text, file: file) } catch {
                throw CommandFailure("\(interface) \(installation.hook.rawValue): the pinned rules do not read: \(error.description)")
            }
            let names = name.map { [$0] } ?? rules.sets.keys.sorted()
            let sets = names.compactMap { name in rules.sets[name].map { (name, $0) } }
            found = found || !sets.isEmpty
            objects.append(.object([("interface", .string(interface)), ("hook", .string(installation.hook.rawValue)),
                                    ("sets", .array(sets.map { .object([("name", .string($0.0)), ("entries", .array($0.1.map(JSON.string)))]) }))]))
            for (setName, entries) in sets {
                lines.append("\(interface) \(installation.hook.rawValue) @\(setName) (\(entries.count) \(entries.count == 1 ? "entry" : "entries")):")
                lines += entries.map { "  " + $0 }
            }
        }
        if let name, !found { throw CommandFailure("no set '\(name)' in the rules attached to \(interface)") }
        if json {
            Output.standardOutput(objects[0].text + "\n")
        } else {
            Output.standardOutput(lines.isEmpty ? "no sets in the rules attached to \(interface)\n" : lines.joined(separator: "\n") + "\n")
        }
    }

    private func change() throws {
        let name = name!
        let lock = try RunLocks.rulesChange { Output.standardError("xdpfw: waiting for another xdpfw apply, detach or set to finish\n") }
        defer { lock.release() }
        // Every hook's change is worked out and checked before any is written.
        var writes: [LiveSetWrite] = []
        defer { writes.forEach { $0.close() } }
        var before: [Int] = []   // the set's entries at each hook before the change
        for (installation, text, file) in try installations() {
            guard let old = (try? RulesFile.parse(text, file: file))?.sets[name] else { continue }
            let place = "\(interface) \(installation.hook.rawValue)"
            let change: LiveSetChange
            do {
                change = try LiveSetChange.plan(text: text, file: file, set: name, adding: action == .add ? entries : [],
                                                removing: action == .del ? entries : [], pinnedEntries: installation.directory.entries,
                                                hook: installation.hook.kind.context)
            } catch {
                throw CommandFailure("\(place): \(error.description)")
            }
            before.append(old.count)
            writes.append(try LiveSetWrite(installation, change, oldText: text))
        }
        guard !writes.isEmpty else { throw CommandFailure("no set '\(name)' in the rules attached to \(interface)") }
        try LiveSetWrite.writeAll(writes)
        // Each hook on its line: the sets of several hooks may differ.
        for (write, old) in zip(writes, before) {
            let now = write.change.entries.count, unchanged = write.change.unchanged
            let verb = action == .add ? "added \(now - old)" : "removed \(old - now)"
            let note = unchanged.isEmpty ? "" : " (\(unchanged.count) already there: \(unchanged.prefix(5).joined(separator: ", "))\(unchanged.count > 5 ? ", ..." : ""))"
            Output.standardOutput("\(interface) \(write.installation.hook.rawValue) @\(name): \(verb)\(note), \(now) \(now == 1 ? "entry" : "entries") now\n")
        }
    }
}
