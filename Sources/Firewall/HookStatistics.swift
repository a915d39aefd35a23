import EBPF
import Kernel
import Ruleset

/// Packets and bytes one counter slot has seen.
public struct Counter: Equatable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0

    public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// The counters of the rules attached at one hook of one interface, named after their rules:
/// what `stats` prints as a table or as JSON.
public struct HookStatistics {
    public var interface: String
    public var hook: String
    /// The rules file the ruleset came from, as given to `apply`.
    public var file: String
    public var policy: Verdict
    public var policyCounter: Counter
    public var rules: [(rule: RuleText, counter: Counter)]
    /// Whether the kernel runs these rules now ("attached", "interface gone", "not attached").
    public var state: HookInstallation.State = .attached
    /// Why the rules are not in force, when they are not.
    public var stateReason: String?

    public init(interface: String, hook: String, file: String, policy: Verdict, policyCounter: Counter,
                rules: [(rule: RuleText, counter: Counter)], state: HookInstallation.State = .attached, stateReason: String? = nil) {
        self.interface = interface
        self.hook = hook
        self.file = file
        self.policy = policy
        self.policyCounter = policyCounter
        self.rules = rules
        self.state = state
        self.stateReason = stateReason
    }

    public var totalPackets: UInt64 { rules.reduce(policyCounter.packets) { $0 + $1.counter.packets } }

    /// The design's JSON shape: interface, hook, policy, then the rules in order.
    public var json: JSON {
        .object([
            ("interface", .string(interface)),
            ("hook", .string(hook)),
            ("policy", .object([("verdict", .string(policy.rawValue)),
                                ("packets", .unsigned(policyCounter.packets)),
                                ("bytes", .unsigned(policyCounter.bytes))])),
            ("rules", .array(rules.map { rule, counter in
                .object([("rule", .integer(Int64(rule.number))),
                         ("line", .integer(Int64(rule.line))),
                         ("verdict", .string(rule.verdict.rawValue)),
                         ("expression", .string(rule.expression)),
                         ("packets", .unsigned(counter.packets)),
                         ("bytes", .unsigned(counter.bytes))])
            })),
            ("file", .string(file)),
            ("state", .string(state.rawValue)),
        ])
    }

    /// A heading and one row per rule, the policy last, in the spirit of `nft list` and `ip -s`:
    ///
    ///     veth0 xdp: rules/example.conf, 5 rules, policy pass
    ///       rule  line  verdict  packets  bytes  share  expression
    ///          1     3  drop          12    840  40.0%  tcp dst port 22 and not src net 10.0.0.0/8
    ///          -     -  pass          18   1716  60.0%  (policy: no rule matched)
    public var table: String {
        let total = totalPackets
        func share(_ packets: UInt64) -> String {
            guard total > 0 else { return "-" }
            let tenths = (packets * 1000 + total / 2) / total
            return "\(tenths / 10).\(tenths % 10)%"
        }
        var rows: [[String]] = [["rule", "line", "verdict", "packets", "bytes", "share", "expression"]]
        for (rule, counter) in rules {
            rows.append([String(rule.number), String(rule.line), rule.verdict.rawValue, String(counter.packets),
                         String(counter.bytes), share(counter.packets), rule.expression])
        }
        rows.append(["-", "-", policy.rawValue, String(policyCounter.packets), String(policyCounter.bytes),
                     share(policyCounter.packets), "(policy: no rule matched)"])
        let count = rules.count == 1 ? "1 rule" : "\(rules.count) rules"
        let warning = state == .attached ? ""
            : "  NOT IN FORCE (\(state.rawValue)): \(stateReason ?? "?"); these counters are what the rules counted before\n"
        return "\(interface) \(hook): \(file), \(count), policy \(policy.rawValue)\n" + warning + TextTable.render(rows, leftAligned: [2, 6], indent: "  ")
    }
}

/// Columns padded to their widest cell: numbers right-aligned, text left-aligned, and the last
/// column never padded (so long expressions do not push trailing blanks).
public enum TextTable {
    public static func render(_ rows: [[String]], leftAligned: Set<Int>, indent: String = "") -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            let cells = row.enumerated().map { index, cell -> String in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                if index == row.count - 1 { return leftAligned.contains(index) ? cell : pad + cell }
                return leftAligned.contains(index) ? cell + pad : pad + cell
            }
            return indent + cells.joined(separator: "  ") + "\n"
        }.joined()
    }
}
