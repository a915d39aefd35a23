/// Filter expressions nobody wrote by hand: a written expression with one to three of its tokens
/// deleted, duplicated, swapped with another, or replaced by a word of the language. Most
/// mutants are refused; the rest are the odd corners (constant comparisons, doubled qualifiers,
/// stray `not`s) where a compiler and its oracle are likeliest to part.
public struct ExpressionMutator {
    /// Tokens a replacement draws from: reserved words, operators, numbers, addresses, names.
    public let vocabulary: [String]

    /// `words`: the language's reserved words and named constants (the tests pass the lexer's
    /// own table); operators, numbers, addresses and a few names are added here.
    public init(words: [String]) {
        vocabulary = Array(Set(words + Self.operators + Self.numbers + Self.names)).sorted()
        known = Set(vocabulary.filter { !$0.contains("-") || words.contains($0) })
    }

    /// Words that need no name server: the vocabulary less its ranges.
    private let known: Set<String>

    static let operators = [
        "and", "or", "not", "(", ")", "[", "]", ":", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>",
        "=", "==", "!=", "<", "<=", ">", ">=", "!", "&&", "||",
    ]
    static let numbers = [
        "0", "1", "2", "3", "4", "6", "8", "13", "14", "17", "58", "80", "255", "256", "0x10", "0xff", "1500",
        "65535", "65536", "4294967295", "4294967296", "1.2.3.4", "10.0", "10.0.0.0/8", "192.168.1.0/24", "::1",
        "fe80::/10", "2001:db8::1", "0:1:2:3:4:5", "ff:ff:ff:ff:ff:ff", "1-1024", "100-200",
    ]
    static let common = operators + numbers + [
        "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "ether", "host", "net", "port", "portrange", "proto",
        "src", "dst", "len", "vlan", "mpls", "broadcast", "multicast", "less", "greater", "mask", "tcpflags",
        "tcp-syn", "icmptype", "icmp-echo",
    ]
    /// Names every test machine answers from its own files. (Service names like `ssh` and
    /// escaped keywords like `\\tcp` are left out: where a host name may stand, libpcap would
    /// ask the machine's name server for them.)
    static let names = ["localhost"]

    /// Whether libpcap might ask the machine's name server about a word of `expression`: a word
    /// that is neither of the vocabulary nor a number or an address (`67-68` alone is a host
    /// name to libpcap). The tests leave such mutants out: no query leaves the machine, and
    /// none waits for an answer.
    public func mayAskNameServer(_ expression: String) -> Bool {
        Self.tokens(of: expression).contains { token in
            guard !known.contains(token) else { return false }
            let isNumber = token.allSatisfy { $0.isHexDigit || $0 == "x" || $0 == "X" }
            let isAddress = token.contains(":") || token.allSatisfy { $0.isNumber || $0 == "." || $0 == "/" }
            return !isNumber && !isAddress
        }
    }

    /// The expression split at white space and around brackets, parentheses and comparison or
    /// arithmetic operators (`-`, `/` and `:` stay inside names, ranges and addresses).
    public static func tokens(of expression: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var currentIsOperator = false
        func flush() {
            if !current.isEmpty { tokens.append(current) }
            current = ""
        }
        for character in expression {
            if character.isWhitespace {
                flush()
            } else if "()[]".contains(character) {
                flush()
                tokens.append(String(character))
            } else {
                let isOperator = "=!<>&|+*%^".contains(character)
                if isOperator != currentIsOperator { flush() }
                currentIsOperator = isOperator
                current.append(character)
            }
        }
        flush()
        return tokens
    }

    /// One mutant of `expression`, drawn with `random`.
    public func mutate(_ expression: String, _ random: inout SeededRandom) -> String {
        var tokens = Self.tokens(of: expression)
        // Mostly one change (a mutant with three is nearly always refused); a replacement is
        // as often a common word as any word of the language.
        for _ in 0..<[1, 1, 1, 2, 2, 3][random.next(6)] {
            let count = tokens.count
            let word = random.next(2) == 0 ? vocabulary[random.next(vocabulary.count)] : Self.common[random.next(Self.common.count)]
            guard count > 0 else { tokens = [word]; continue }
            let index = random.next(count)
            switch random.next(4) {
            case 0 where count > 1: tokens.remove(at: index)
            case 1: tokens.insert(tokens[index], at: index)
            case 2: tokens.swapAt(index, random.next(count))
            default: tokens[index] = word
            }
        }
        return tokens.joined(separator: " ")
    }
}

extension ExpressionMutator {
    /// `count` distinct mutants of `expressions` (fewer only if a generous number of draws
    /// cannot find them), the same ones for the same seed.
    public func mutants(of expressions: [String], count: Int, seed: UInt64) -> [String] {
        guard !expressions.isEmpty else { return [] }
        var random = SeededRandom(seed: seed)
        var seen = Set(expressions)
        var result: [String] = []
        result.reserveCapacity(count)
        for _ in 0..<(count * 10) where result.count < count {
            let mutant = mutate(expressions[random.next(expressions.count)], &random)
            if seen.insert(mutant).inserted { result.append(mutant) }
        }
        return result
    }

    /// The seed a run uses: `FUZZ_SEED` from the environment (a number, or `random` for a new
    /// one each run), else `fixed`.
    public static func seed(from environment: [String: String], fixed: UInt64) -> UInt64 {
        switch environment["FUZZ_SEED"] {
        case "random"?: return UInt64.random(in: 1...UInt64.max)
        case let text?: return UInt64(text) ?? fixed
        case nil: return fixed
        }
    }
}
