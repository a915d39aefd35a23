@testable import FilterLanguage

/// A small deterministic generator (SplitMix64), so a failing case can be reproduced by seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random expressions from the language's vocabulary: token soup, and grammar-shaped
/// expressions with an occasional mutation. Names are only `localhost` (resolved from
/// /etc/hosts), so asking libpcap about them never goes to the network.
struct RandomExpressions {
    var random: SeededGenerator

    static let words: [String] = Array(Vocabulary.keywords.keys).sorted() + ["icmp-echo", "tcp-syn", "tcpflags"]
    static let operators = ["(", ")", "[", "]", ":", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>",
                            "=", "==", "!=", "<", "<=", ">", ">=", "!", "&&", "||"]
    static let operands = ["0", "1", "2", "4", "80", "0x10", "017", "08", "4294967295", "4294967296",
                           "1.2.3.4", "10.0", "::1", "fe80::", "0:1:2:3:4:5", "00-11-22-33-44-55",
                           "$1", "localhost", "\\localhost", "ab:cd:", "255.0.0.0"]
    static let protocols = ["ip", "ip6", "tcp", "udp", "ether", "arp", "icmp", "link", "sctp", "decnet"]

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    mutating func pick(_ list: [String]) -> String { list.randomElement(using: &random) ?? "" }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

    /// Any mix of vocabulary tokens, 1 to `maximum` of them.
    mutating func soup(maximum: Int = 8) -> String {
        let count = Int.random(in: 1...maximum, using: &random)
        return (0..<count).map { _ -> String in
            switch Int.random(in: 0..<3, using: &random) {
            case 0: return pick(Self.words)
            case 1: return pick(Self.operators)
            default: return pick(Self.operands)
            }
        }.joined(separator: " ")
    }

    /// Tokens run together (or not), to test where the scanner splits. No word here can make a
    /// host-name lookup: no `host`, `net`, `gateway`, `src`, `dst`, `ether`, and no run of these
    /// words spells one.
    static let denseVocabulary = ["(", ")", "[", "]", ":", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>",
                                  "=", "==", "!=", "<", "<=", ">", ">=", "!", "&&", "||", "0", "1", "0x1f", "08",
                                  "len", "tcp", "ip", "ip6", "and", "or", "not", "port", "proto", "1.2", "::",
                                  "1:2", "ab", "\\", ".", "-", "_", "$"]

    mutating func dense(maximum: Int = 10) -> String {
        let count = Int.random(in: 1...maximum, using: &random)
        return (0..<count).map { _ in pick(Self.denseVocabulary) + (chance(30) ? " " : "") }.joined()
    }

    /// Something close to a valid expression, sometimes with one token replaced or dropped.
    mutating func shaped() -> String {
        var tokens = expression(depth: 0)
        if chance(40), !tokens.isEmpty {
            let at = Int.random(in: 0..<tokens.count, using: &random)
            if chance(50) { tokens.remove(at: at) } else { tokens[at] = soup(maximum: 1) }
        }
        return tokens.joined(separator: " ")
    }

    mutating func expression(depth: Int) -> [String] {
        var tokens = term(depth: depth)
        while chance(35) {
            tokens += [pick(["and", "or", "&&", "||"])]
            tokens += chance(30) ? operand(depth: depth) : term(depth: depth)
        }
        return tokens
    }

    mutating func term(depth: Int) -> [String] {
        if chance(15) { return [pick(["not", "!"])] + term(depth: depth) }
        switch Int.random(in: 0..<6, using: &random) {
        case 0 where depth < 3: return ["("] + expression(depth: depth + 1) + [")"]
        case 1: return arithmetic(depth: depth) + [pick(["=", "!=", "<", ">", "<=", ">="])] + arithmetic(depth: depth)
        case 2: return [pick(Self.protocols)]
        case 3: return [pick(["vlan", "mpls", "pppoes", "geneve", "less", "greater", "llc", "broadcast", "inbound"])]
            + (chance(50) ? [pick(Self.operands)] : [])
        default:
            var head: [String] = []
            if chance(50) { head.append(pick(Self.protocols)) }
            if chance(50) { head += pick(["src", "dst", "src or dst", "src and dst"]).split(separator: " ").map(String.init) }
            if head.isEmpty || chance(60) { head.append(pick(["host", "net", "port", "portrange", "proto", "protochain", "gateway"])) }
            return head + operand(depth: depth)
        }
    }

    mutating func operand(depth: Int) -> [String] {
        if chance(10) { return ["not"] + operand(depth: depth) }
        if chance(10), depth < 3 { return ["("] + operand(depth: depth + 1) + [pick(["and", "or"])] + operand(depth: depth + 1) + [")"] }
        if chance(10) { return [pick(["1.2.3.4", "10.0", "fe80::"]), "/", pick(["8", "16", "64"])] }
        return [pick(Self.operands)]
    }

    mutating func arithmetic(depth: Int) -> [String] {
        var tokens: [String]
        switch Int.random(in: 0..<5, using: &random) {
        case 0: tokens = ["len"]
        case 1 where depth < 3: tokens = [pick(Self.protocols), "["] + arithmetic(depth: depth + 1)
            + (chance(50) ? [":", pick(["1", "2", "4", "3"])] : []) + ["]"]
        case 2 where depth < 3: tokens = ["("] + arithmetic(depth: depth + 1) + [")"]
        case 3: tokens = ["-"] + arithmetic(depth: depth + 1)
        default: tokens = [pick(["0", "1", "2", "0x10", "tcpflags", "tcp-syn"])]
        }
        while chance(30) {
            tokens += [pick(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])] + arithmetic(depth: depth + 1)
        }
        return tokens
    }
}
