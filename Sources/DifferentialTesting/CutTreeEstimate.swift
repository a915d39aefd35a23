import EBPF

/// A HiCuts-style decision tree built over a generated ruleset, only to count what such a tree
/// costs: nodes, rule references (rules are copied into every cut they overlap: the replication
/// wildcards cause), depth, and for given flows the levels walked and the leaf rules checked.
/// Rules are boxes over (source, destination, protocol, source port, destination port); IPv6
/// rules are left out (a second tree would hold them). Rules may first be split into groups, one
/// tree each, that a packet walks all of (EffiCuts' and CutSplit's cure for replication).
public struct CutTreeEstimate: Sendable {
    public enum Partition: String, CaseIterable, Sendable {
        /// One tree.
        case none
        /// By which address fields the rule leaves out (up to 4 trees).
        case addressWildcards = "address wildcards"
        /// By which of the four address and port fields are small (a prefix of /16 or longer, a
        /// range of at most 1,024 ports), CutSplit's idea (up to 16 trees).
        case smallFields = "small fields"

        func key(_ rule: FieldRule) -> [Bool] {
            switch self {
            case .none: []
            case .addressWildcards: [rule.source == nil, rule.destination == nil]
            case .smallFields:
                [rule.source, rule.destination].map { ($0?.length ?? 0) >= 16 }
                    + [rule.sourcePorts, rule.destinationPorts].map { $0.map { Int($0.upper) - Int($0.lower) < 1024 } ?? false }
            }
        }
    }

    public var trees = 0
    public var nodes = 0
    public var references = 0
    public var depth = 0
    /// Leaves with more than `leafSize` rules, where cutting stopped at the depth limit.
    public var overfullLeaves = 0

    /// Bytes in array maps: 16 per node (field, shift, mask, first child), 4 per child slot
    /// and per rule reference.
    public var bytes: Int { nodes * 16 + references * 4 + childSlots * 4 }
    var childSlots = 0

    typealias Box = [ClosedRange<UInt64>]
    indirect enum Node {
        case leaf([Int])
        case cut(dimension: Int, low: UInt64, width: UInt64, children: [Node])
    }

    let rules: [Box]
    let fieldRules: [FieldRule]
    /// Whether the rule's box is exactly what it matches (a protocol-less rule with ports is not).
    let exact: [Bool]
    let ruleNumbers: [Int]
    /// Cutting stopped early everywhere once the tree grew past `limit` references or nodes.
    public var gaveUp = false
    let limit = 20_000_000
    var roots: [Node] = []
    let leafSize: Int, spaceFactor: Double, maximumDepth: Int

    public init(_ ruleset: [FieldRule], partition: Partition, leafSize: Int = 8, spaceFactor: Double = 4, maximumDepth: Int = 24) {
        let kept = ruleset.indices.filter { !ruleset[$0].isIPv6 }
        ruleNumbers = kept
        rules = kept.map { Self.box(ruleset[$0]) }
        fieldRules = kept.map { ruleset[$0] }
        exact = fieldRules.map { $0.transport != .any || ($0.sourcePorts == nil && $0.destinationPorts == nil) }
        self.leafSize = leafSize
        self.spaceFactor = spaceFactor
        self.maximumDepth = maximumDepth
        let groups = Dictionary(grouping: rules.indices) { partition.key(ruleset[kept[$0]]) }
        for key in groups.keys.sorted(by: { "\($0)" < "\($1)" }) {
            roots.append(build(groups[key]!, box: Self.everything, depth: 0))
        }
        trees = roots.count
    }

    static let everything: Box = [0...0xffff_ffff, 0...0xffff_ffff, 0...255, 0...65535, 0...65535]

    static func box(_ rule: FieldRule) -> Box {
        func range(_ prefix: AddressPrefix?) -> ClosedRange<UInt64> {
            guard let prefix else { return 0...0xffff_ffff }
            let low = prefix.bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return low...(low | ((1 << UInt64(32 - prefix.length)) - 1))
        }
        let ports = [rule.sourcePorts, rule.destinationPorts].map { $0.map { UInt64($0.lower)...UInt64($0.upper) } ?? 0...65535 }
        let proto: ClosedRange<UInt64> = switch rule.transport {
        case .tcp: 6...6
        case .udp: 17...17
        case .icmp: 1...1
        case .any: 0...255   // with ports: TCP, UDP or SCTP; a box keeps it simple and safe
        }
        return [range(rule.source), range(rule.destination), proto] + ports
    }

    private mutating func build(_ list: [Int], box: Box, depth: Int) -> Node {
        nodes += 1
        self.depth = max(self.depth, depth)
        // A rule covering the whole box hides every later rule in it.
        var list = list
        if let cover = list.firstIndex(where: { rule in exact[rule] && (0..<5).allSatisfy { rules[rule][$0].contains(box[$0].lowerBound) && rules[rule][$0].contains(box[$0].upperBound) } }) {
            list = Array(list[...cover])
        }
        gaveUp = gaveUp || references > limit || nodes > limit / 4
        if list.count <= leafSize || depth >= maximumDepth || gaveUp {
            if list.count > leafSize { overfullLeaves += 1 }
            references += list.count
            return .leaf(list)
        }
        // HiCuts: cut the dimension with the most distinct rule projections, into as many equal
        // parts as keep the copies under spaceFactor × the rules.
        let dimension = (0..<5).max { a, b in projections(list, box, a) < projections(list, box, b) }!
        let width = box[dimension].upperBound - box[dimension].lowerBound + 1
        var parts: UInt64 = 2
        while parts < 256, parts * 2 <= width, Double(copies(list, box, dimension, parts * 2) + Int(parts * 2)) <= spaceFactor * Double(list.count) {
            parts *= 2
        }
        guard width >= 2 else { references += list.count; return .leaf(list) }
        let step = width / parts
        let boxes = (0..<parts).map { part in
            var child = box
            let low = box[dimension].lowerBound + part * step
            child[dimension] = low...(part == parts - 1 ? box[dimension].upperBound : low + step - 1)
            return child
        }
        let lists = boxes.map { child in list.filter { rules[$0][dimension].overlaps(child[dimension]) } }
        if lists.allSatisfy({ $0.count == list.count }) {   // no cut separates anything: stop here
            if list.count > leafSize { overfullLeaves += 1 }
            references += list.count
            return .leaf(list)
        }
        childSlots += Int(parts)
        var children: [Node] = []
        for (child, inside) in zip(boxes, lists) { children.append(build(inside, box: child, depth: depth + 1)) }
        return .cut(dimension: dimension, low: box[dimension].lowerBound, width: step, children: children)
    }

    private func projections(_ list: [Int], _ box: Box, _ dimension: Int) -> Int {
        Set(list.map { rules[$0][dimension].clamped(to: box[dimension]) }).count
    }

    private func copies(_ list: [Int], _ box: Box, _ dimension: Int, _ parts: UInt64) -> Int {
        let low = box[dimension].lowerBound, step = (box[dimension].upperBound - low + 1) / parts
        return list.reduce(0) { sum, rule in
            let range = rules[rule][dimension].clamped(to: box[dimension])
            return sum + Int(min(parts - 1, (range.upperBound - low) / step) - min(parts - 1, (range.lowerBound - low) / step) + 1)
        }
    }

    /// For an IPv4 flow: levels walked and leaf rules checked in all trees, and the first
    /// matching rule's index in the ruleset (what the tree answers).
    public func walk(_ flow: Flow) -> (levels: Int, checked: Int, rule: Int?) {
        let point: [UInt64] = [flow.source, flow.destination].map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
            + [UInt64(flow.ipProtocol), UInt64(flow.sourcePort), UInt64(flow.destinationPort)]
        var levels = 0, checked = 0, best: Int?
        for root in roots {
            var node = root
            while case let .cut(dimension, low, width, children) = node {
                levels += 1
                node = children[min(children.count - 1, Int((point[dimension] - low) / width))]
            }
            guard case let .leaf(list) = node else { continue }
            for rule in list {
                checked += 1
                if fieldRules[rule].matches(flow) {
                    best = min(best ?? .max, ruleNumbers[rule])
                    break
                }
            }
        }
        return (levels, checked, best)
    }
}
