import FilterLanguage
import PacketFormats

/// How to compile an expression.
public struct CompileOptions: Sendable {
    /// Run the optimizer (tcpdump's default; `-O` turns it off).
    public var optimize = true
    /// Bytes an accepting filter returns (`-s`).
    public var snapLength: UInt32 = 262144
    /// The network mask for `ip broadcast`; nil when not known (then `ip broadcast` is an
    /// error, as with libpcap's PCAP_NETMASK_UNKNOWN). tcpdump -d without an interface uses 0.
    public var netmask: UInt32?
    /// Where host, network, service and protocol names are looked up.
    public var names: any NameService = SystemFiles()

    public init() {}
}

/// Syntax tree → unoptimized block graph, shaped like libpcap's before its optimizer runs.
public enum FilterCodeGenerator {
    public static func generate(_ expression: FilterExpression, options: CompileOptions) throws(FilterError) -> FilterProgram {
        var generator = Generator(names: options.names, netmask: options.netmask)
        guard let test = try generator.compile(expression) else {
            var graph = BlockGraph()
            let accept = graph.verdict(options.snapLength)
            return graph.program(entry: accept)
        }
        let accept = generator.graph.verdict(options.snapLength)
        let reject = generator.graph.verdict(0)
        generator.graph.connect(test.whenTrue, to: accept)
        generator.graph.connect(test.whenFalse, to: reject)
        return generator.graph.program(entry: test.entry)
    }
}

/// The state of one compilation: the graph so far, the scratch slots in use, and the link
/// layout that `vlan`, `mpls`, `pppoes` and `geneve` change for every primitive after them.
struct Generator {
    var graph = BlockGraph()
    var registers = ScratchRegisters()
    var link = LinkLayout()
    let names: any NameService
    let netmask: UInt32?
    /// The primitive being compiled, for error messages.
    var range = SourceRange(0, 0)

    init(names: any NameService, netmask: UInt32?) { self.names = names; self.netmask = netmask }

    func fail(_ message: String) -> FilterError { FilterError(message, at: range) }

    /// Compiles an expression in source order; nil for the empty expression.
    mutating func compile(_ expression: FilterExpression) throws(FilterError) -> Fragment? {
        switch expression {
        case .empty:
            return nil
        case .and, .or:
            return try compileChain(expression)
        case let .not(a, _):
            return try compile(a)?.negated
        case let .qualified(qualifiers, identifier, _, range):
            self.range = range
            return try qualified(qualifiers, identifier)
        case let .proto(qualifier, range):
            self.range = range
            return try protocolAbbreviation(qualifier)
        case let .comparison(op, lhs, rhs, range):
            self.range = range
            return try comparison(op, lhs, rhs)
        case let .special(primitive, range):
            self.range = range
            return try special(primitive)
        }
    }

    /// `a or b and c ...`: and/or group to the left, so a chain is a tree as deep as it is long.
    /// Its left spine is walked in a loop (in source order, as the recursion would), so a chain
    /// of thousands of terms needs no more stack than one term.
    private mutating func compileChain(_ expression: FilterExpression) throws(FilterError) -> Fragment? {
        var rightOperands: [(isAnd: Bool, operand: FilterExpression)] = []
        var leftmost = expression
        spine: while true {
            switch leftmost {
            case let .and(a, b): rightOperands.append((true, b)); leftmost = a
            case let .or(a, b): rightOperands.append((false, b)); leftmost = a
            default: break spine
            }
        }
        var result = try compile(leftmost)
        for (isAnd, operand) in rightOperands.reversed() {
            let right = try compile(operand)
            guard let left = result, let right else { result = result ?? right; continue }
            result = isAnd ? graph.and(left, right) : graph.or(left, right)
        }
        return result
    }

    mutating func special(_ primitive: SpecialPrimitive) throws(FilterError) -> Fragment {
        switch primitive {
        case let .broadcast(qualifier): return try broadcast(qualifier)
        case let .multicast(qualifier): return try multicast(qualifier)
        case let .less(n): return compareLength(n, .greater, negate: true)
        case let .greater(n): return compareLength(n, .greaterOrEqual, negate: false)
        case let .encapsulation(keyword, value):
            switch keyword {
            case .vlan: return try vlan(value)
            case .mpls: return try mpls(value)
            case .pppoes: return try pppoeSession(value)
            case .geneve: return try geneve(value)
            }
        case .pppoeDiscovery: return try linkType(Protocols.EtherType.pppoeDiscovery)
        case let .llc(kind): return try llc(kind)
        case let .byte(offset, op, value): return byteTest(offset, op, value)
        case .inbound: return packetDirection(outbound: false)
        case .outbound: return packetDirection(outbound: true)
        case let .interfaceIndex(index):
            return interfaceIndex(index)
        case let .unsupported(keyword):
            throw fail(Self.unsupportedMessage(keyword))
        }
    }

    /// libpcap's message for a primitive that needs another link type.
    static func unsupportedMessage(_ keyword: String) -> String {
        switch keyword {
        case "vxlan": return "can't parse filter expression: syntax error"
        case "type", "subtype", "type/subtype": return "802.11 link-layer types supported only on 802.11"
        case "dir", "direction": return "frame direction supported only with 802.11 headers"
        case "action", "reason", "rnr", "srnr": return "\(keyword) supported only on PF linktype"
        case "rulenum": return "rnr supported only on PF linktype"
        case "srulenum", "subrulenum": return "srnr supported only on PF linktype"
        case "rset", "ruleset": return "ruleset supported only on PF linktype"
        case "ifname", "on": return "ifname supported only on PF linktype"
        case "lane", "vci", "vpi", "oam", "oamf4", "metac", "bcc", "sc", "ilmic", "connectmsg", "metaconnect":
            return "'\(keyword)' supported only on raw ATM"
        case "fisu", "lssu", "msu": return "'\(keyword)' supported only on MTP2"
        case "lsu": return "'lssu' supported only on MTP2"
        // libpcap's own spelling of these two names in its message.
        case "oamf4ec": return "'oam4ec' supported only on raw ATM"
        case "oamf4sc": return "'oam4sc' supported only on raw ATM"
        case "hfisu", "hlssu", "hmsu": return "'\(keyword)' supported only on MTP2_HSL"
        case "sio", "opc", "dpc", "sls": return "'\(keyword)' supported only on SS7"
        case "hsio", "hopc", "hdpc", "hsls": return "'\(keyword.dropFirst())' supported only on SS7"
        default: return "'\(keyword)' not supported on Ethernet"
        }
    }
}
