import EBPF

/// A generated ruleset of one family, as rules.conf text, with frames aimed at chosen rules:
/// each frame's first match (libpcap's meaning, checked by the tests) is its aimed rule, so a
/// benchmark with these frames walks deep into the list.
public struct GeneratedRuleset: Sendable {
    public var family: RulesetFamily
    public var seed: UInt64
    public var rules: [FieldRule]
    public var policy: Verdict

    public init(family: RulesetFamily, count: Int, seed: UInt64, policy: Verdict = .pass) {
        self.family = family
        self.seed = seed
        self.policy = policy
        rules = family.rules(count: count, seed: seed)
    }

    /// rules.conf: a comment naming how it was made, the policy, one rule a line.
    public var text: String {
        "# \(rules.count) rules of the \(family.rawValue) family, seed \(seed)\npolicy \(policy.rawValue)\n"
            + rules.map { $0.line + "\n" }.joined()
    }

    /// (expression, verdict) pairs, as LibpcapRuleset takes them.
    public var expressions: [(expression: String, verdict: Verdict)] { rules.map { ($0.expression, $0.verdict) } }

    /// Up to `count` flows, each aimed at one rule (index into `rules`), the rules spread evenly
    /// over the list and always including the last one that can be reached. A rule that every
    /// drawn flow finds shadowed by an earlier rule is passed over for the next one.
    public func aimedFlows(count: Int, attempts: Int = 32) -> [(rule: Int, flow: Flow)] {
        guard count > 0, !rules.isEmpty else { return [] }
        var random = SeededRandom(seed: seed &+ 0x5eed)
        let step = max(1, Double(rules.count) / Double(count))
        let targets = Set((0..<min(count, rules.count)).map { rules.count - 1 - Int(Double($0) * step) }).sorted()
        var aimed: [(rule: Int, flow: Flow)] = []
        var untried = 0
        for target in targets where target >= untried {
            var candidate = target
            while candidate < rules.count {
                if let flow = flow(aimedAt: candidate, attempts: attempts, random: &random) {
                    aimed.append((candidate, flow))
                    break
                }
                candidate += 1   // shadowed: the next rule instead
            }
            untried = candidate + 1
        }
        return aimed
    }

    /// A flow that `rules[target]` matches and no earlier rule does, or nil after `attempts` draws.
    public func flow(aimedAt target: Int, attempts: Int, random: inout SeededRandom) -> Flow? {
        let rule = rules[target]
        for _ in 0..<attempts {
            let flow = draw(for: rule, random: &random)
            if rule.matches(flow), !rules[..<target].contains(where: { $0.matches(flow) }) { return flow }
        }
        return nil
    }

    private func draw(for rule: FieldRule, random: inout SeededRandom) -> Flow {
        let ipv6 = rule.source != nil || rule.destination != nil ? rule.isIPv6
            : rule.transport == .icmp ? false : random.next(100) < 15
        func address(_ prefix: AddressPrefix?) -> [UInt8] {
            (prefix ?? AddressPrefix(masking: Array(repeating: 0, count: ipv6 ? 16 : 4), length: 0)).randomAddress(using: &random)
        }
        let ipProtocol: UInt8 = switch rule.transport {
        case .tcp: IPProtocolNumber.tcp
        case .udp: IPProtocolNumber.udp
        case .icmp: ipv6 ? IPProtocolNumber.icmp6 : IPProtocolNumber.icmp
        case .any: random.next(2) == 0 ? IPProtocolNumber.tcp : IPProtocolNumber.udp
        }
        func port(_ range: PortRange?, default defaults: PortRange) -> UInt16 {
            let range = range ?? defaults
            return range.lower + UInt16(random.next(Int(range.upper - range.lower) + 1))
        }
        return Flow(source: address(rule.source), destination: address(rule.destination), ipProtocol: ipProtocol,
                    sourcePort: port(rule.sourcePorts, default: PortRange(1024, 65535)),
                    destinationPort: port(rule.destinationPorts, default: PortRange(1, 65535)))
    }
}
