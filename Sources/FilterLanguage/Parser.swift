/// The parser: tokens to a `FilterExpression`, with libpcap 1.10.3's grammar.
///
/// What was established against libpcap (and is checked again by the tests at test time):
/// - `and` and `or` have the same precedence and group to the left; `not` applies to the one
///   primitive (or parenthesised expression) after it.
/// - A bare operand after `and`/`or`/`not` takes the qualifiers of the primitive before it
///   (`host a or b`, `not host a and b`, `tcp port 80 or 443`). A parenthesised expression passes
///   on the qualifiers from before the parenthesis (`port 1 and (tcp) and 2` is `port 2`); a
///   protocol name, a comparison or a special primitive passes on none, and an operand that
///   inherits none is libpcap's "syntax error in filter expression".
/// - Inside parentheses after a qualified primitive, only operands may be listed (`host a and
///   (b or c)`); `((b))` and `(b and tcp)` are syntax errors there.
///
/// The grammar needs a little backtracking at `(` and at a number (operand or arithmetic?); the
/// alternatives are tried in an order that gives libpcap's reading.
public enum FilterParser {
    /// Parses `text`; empty or blank text is `.empty`.
    public static func parse(_ text: String) throws(FilterError) -> FilterExpression {
        var parser = Parser(tokens: Lexer.tokens(text), source: Array(text.utf8))
        do {
            return try parser.program()
        } catch let failure {
            throw parser.error(for: failure)
        }
    }
}

/// Why an attempt failed: a syntax failure another alternative may get past, or an error libpcap
/// reports as soon as it is reached (a grammar action's or the scanner's).
enum ParseFailure: Error {
    case syntax
    case committed(FilterError)
}

/// The qualifiers an operand after `and`/`or`/`not`/`(` would take (libpcap's `$<blk>0.q`);
/// nil where libpcap has none to give.
typealias Carried = Qualifiers?

struct Parser {
    /// Each level costs a few KiB of stack in a debug build; 100 fits the 512 KiB stacks of
    /// Swift concurrency threads (FuzzTests.testDeepestAcceptedNestingFitsASmallStack): 104
    /// parentheses overflow one. libpcap takes 9,995 (its parser's stack holds 10,000 entries);
    /// taking as many needs a parser without recursion per parenthesis.
    static let maximumDepth = 100
    /// Every and/or/not and arithmetic operator is one level of the syntax tree. The compiler
    /// walks chains (`host a or host b or ...`, `1 + 2 + ...`) in loops, but a tree is still
    /// freed recursively, ~100 bytes of stack per level in a debug build: 4,096 levels fit a
    /// 512 KiB thread stack with room to spare (5,384 do not). libpcap has no such limit, but
    /// takes 26 s for `tcpdump -O -d` of a 3,000-term `host` chain and minutes optimized.
    static let maximumOperators = 4096
    /// A guard against absurd input; the operator limit is the one chains meet first.
    static let maximumTokens = 65_536

    let tokens: [Token]
    let source: [UInt8]
    var index = 0
    /// The furthest token any attempt failed at: where an LR parser would have stopped.
    var furthestFailure = 0
    var depth = 0

    init(tokens: [Token], source: [UInt8]) { self.tokens = tokens; self.source = source }

    var current: Token { tokens[min(index, tokens.count - 1)] }
    func peek(_ offset: Int = 0) -> TokenKind { tokens[min(index + offset, tokens.count - 1)].kind }

    mutating func advance() -> Token {
        let token = current
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    /// A syntax failure at the current token (or a committed one if the scanner refused it).
    mutating func fail() -> ParseFailure {
        if case let .invalid(message?) = current.kind {
            return .committed(FilterError(message, at: current.range))
        }
        furthestFailure = max(furthestFailure, index)
        return .syntax
    }

    mutating func expect(_ p: Punctuation) throws(ParseFailure) -> Token {
        guard peek() == .punctuation(p) else { throw fail() }
        return advance()
    }

    func at(_ p: Punctuation) -> Bool { peek() == .punctuation(p) }
    func at(_ k: Keyword) -> Bool { peek() == .keyword(k) }
    var atNot: Bool { at(.not) || at(.bang) }
    var startOfCurrent: Int { current.range.start }
    var endOfPrevious: Int { index > 0 ? tokens[index - 1].range.end : 0 }

    /// Runs `body`; on a syntax failure puts the position back and returns nil.
    mutating func attempt<T>(_ body: (inout Parser) throws(ParseFailure) -> T) throws(ParseFailure) -> T? {
        let saved = index
        do {
            return try body(&self)
        } catch .syntax {
            index = saved
            return nil
        } catch let other {
            throw other
        }
    }

    mutating func nested<T>(_ body: (inout Parser) throws(ParseFailure) -> T) throws(ParseFailure) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw .committed(FilterError("expression nested too deeply (more than \(Self.maximumDepth) levels)", at: current.range))
        }
        return try body(&self)
    }

    func error(for failure: ParseFailure) -> FilterError {
        switch failure {
        case let .committed(error): return error
        case .syntax:
            let token = tokens[min(furthestFailure, tokens.count - 1)]
            if token.kind == .end {
                return FilterError("syntax error: unexpected end of expression", at: token.range)
            }
            return FilterError("syntax error: unexpected '\(token.text)'\(hint(at: furthestFailure))", at: token.range)
        }
    }

    /// After `proto`, `port`, `host`... a reserved word where a name was wanted: say how to
    /// write it (`ip proto tcp` means `ip proto \tcp`).
    func hint(at failure: Int) -> String {
        guard failure > 0, failure < tokens.count, case .keyword(.type) = tokens[failure - 1].kind,
              case let .keyword(keyword) = tokens[failure].kind,
              ![.and, .or, .not].contains(keyword), tokens[failure].text.first?.isLetter == true else { return "" }
        let word = tokens[failure].text
        return " (a reserved word; write '\\\(word)' for the name \(word))"
    }

    // MARK: Expressions

    mutating func program() throws(ParseFailure) -> FilterExpression {
        if peek() == .end { return .empty }
        if tokens.count > Self.maximumTokens {
            throw .committed(FilterError("expression too long (more than \(Self.maximumTokens) tokens)",
                                         at: tokens[Self.maximumTokens].range))
        }
        if let tooMany = tokens.lazy.filter(\.isOperator).dropFirst(Self.maximumOperators).first {
            throw .committed(FilterError("expression too long (more than \(Self.maximumOperators) and/or/not and arithmetic operators)",
                                         at: tooMany.range))
        }
        let (expression, _) = try self.expression(carrying: nil)
        guard peek() == .end else { throw fail() }
        return expression
    }

    /// `term ((and|or) (term|operand))*`, grouped to the left.
    mutating func expression(carrying carried: Carried) throws(ParseFailure) -> (FilterExpression, Carried) {
        var (result, carry) = try term(carrying: carried)
        while at(.and) || at(.or) {
            let isAnd = at(.and)
            _ = advance()
            let (right, next) = try term(carrying: carry, operandAllowed: true)
            result = isAnd ? .and(result, right) : .or(result, right)
            carry = next
        }
        return (result, carry)
    }

    /// `not* primitive`; after `and`/`or` (`operandAllowed`) also a bare operand taking the
    /// qualifiers carried over.
    mutating func term(carrying carried: Carried, operandAllowed: Bool = false) throws(ParseFailure) -> (FilterExpression, Carried) {
        try nested { (p) throws(ParseFailure) in
            if p.atNot {
                let start = p.advance().range.start
                let (inner, carry) = try p.term(carrying: carried, operandAllowed: operandAllowed)
                return (.not(inner, SourceRange(start, p.endOfPrevious)), carry)
            }
            guard operandAllowed else { return try p.primitive(carrying: carried) }
            switch p.peek() {
            case .name, .dotted, .ipv6, .mac, .arcnet:
                return (try p.operand(carrying: carried, inherited: true, qualifierStart: nil), carried)
            case .number, .punctuation(.openParen):
                if let operand = try p.attempt({ (p) throws(ParseFailure) in
                    try p.operand(carrying: carried, inherited: true, qualifierStart: nil)
                }) {
                    return (operand, carried)
                }
                return try p.primitive(carrying: carried)
            default:
                return try p.primitive(carrying: carried)
            }
        }
    }

    // MARK: Operands (libpcap's `id`)

    /// `not operand`, a number, `( operand-list )`, or an address or name.
    mutating func operand(carrying carried: Carried, inherited: Bool, qualifierStart: Int?) throws(ParseFailure) -> FilterExpression {
        try nested { (p) throws(ParseFailure) in
            if p.atNot {
                let start = p.advance().range.start
                let inner = try p.operand(carrying: carried, inherited: inherited, qualifierStart: nil)
                return .not(inner, SourceRange(start, p.endOfPrevious))
            }
            if p.at(.openParen) {
                if let number = try p.attempt({ (p) throws(ParseFailure) in try p.numberOperand(carrying: carried, inherited: inherited, qualifierStart: qualifierStart) }) {
                    return number
                }
                _ = p.advance()
                let list = try p.operandList(carrying: carried, inherited: inherited)
                _ = try p.expect(.closeParen)
                return list
            }
            if case .number = p.peek() {
                return try p.numberOperand(carrying: carried, inherited: inherited, qualifierStart: qualifierStart)
            }
            return try p.address(carrying: carried, inherited: inherited, qualifierStart: qualifierStart)
        }
    }

    /// A number or a parenthesised number used as an operand; not when arithmetic follows.
    mutating func numberOperand(carrying carried: Carried, inherited: Bool, qualifierStart: Int?) throws(ParseFailure) -> FilterExpression {
        let start = startOfCurrent
        let value = try parenthesisedNumber()
        if Self.continuesArithmetic(peek()) { throw fail() }
        return try qualify(.number(value), carried, inherited, SourceRange(qualifierStart ?? start, endOfPrevious))
    }

    /// `NUM` or `( pnum )`.
    mutating func parenthesisedNumber() throws(ParseFailure) -> UInt32 {
        try nested { (p) throws(ParseFailure) in
            if p.at(.openParen) {
                _ = p.advance()
                let value = try p.parenthesisedNumber()
                _ = try p.expect(.closeParen)
                return value
            }
            guard case let .number(value) = p.peek() else { throw p.fail() }
            _ = p.advance()
            return value
        }
    }

    static func continuesArithmetic(_ kind: TokenKind) -> Bool {
        guard case let .punctuation(p) = kind else { return false }
        switch p {
        case .openParen, .closeParen, .openBracket, .closeBracket, .colon, .bang: return false
        default: return true
        }
    }

    /// Inside `(` after a qualified primitive: `operand`, or `number-or-list (and|or) operand ...`.
    mutating func operandList(carrying carried: Carried, inherited: Bool) throws(ParseFailure) -> FilterExpression {
        var result: FilterExpression
        if let number = try attempt({ (p) throws(ParseFailure) -> FilterExpression in
            let start = p.startOfCurrent
            let value = try p.parenthesisedNumber()
            guard p.at(.and) || p.at(.or) else { throw p.fail() }
            return try p.qualify(.number(value), carried, inherited, SourceRange(start, p.endOfPrevious))
        }) {
            result = number
        } else if atNot {
            let start = advance().range.start
            let inner = try operand(carrying: carried, inherited: inherited, qualifierStart: nil)
            result = .not(inner, SourceRange(start, endOfPrevious))
        } else {
            result = try address(carrying: carried, inherited: inherited, qualifierStart: nil)
        }
        while at(.and) || at(.or) {
            let isAnd = at(.and)
            _ = advance()
            let right = try operand(carrying: carried, inherited: inherited, qualifierStart: nil)
            result = isAnd ? .and(result, right) : .or(result, right)
        }
        return result
    }

    /// A name, dotted number (maybe `/len` or `mask M`), IPv6 address (maybe `/len`), or MAC.
    mutating func address(carrying carried: Carried, inherited: Bool, qualifierStart: Int?) throws(ParseFailure) -> FilterExpression {
        let token = current
        let identifier: Identifier
        switch token.kind {
        case let .name(name):
            _ = advance()
            identifier = .name(name)
        case let .dotted(text), let .ipv6(text):
            _ = advance()
            if at(.slash) {
                _ = advance()
                guard case let .number(length) = peek() else { throw fail() }
                _ = advance()
                identifier = .prefix(text, length: length)
            } else if case .dotted = token.kind, at(.mask) {
                _ = advance()
                guard case let .dotted(mask) = peek() else { throw fail() }
                _ = advance()
                identifier = .masked(text, mask: mask)
            } else if case .ipv6 = token.kind {
                identifier = .ipv6(text)
            } else {
                identifier = .dotted(text)
            }
        case let .mac(text):
            _ = advance()
            identifier = .mac(text)
        case .arcnet:
            _ = advance()
            throw .committed(FilterError("aid supported only on ARCnet", at: token.range))
        default:
            throw fail()
        }
        return try qualify(identifier, carried, inherited, SourceRange(qualifierStart ?? token.range.start, endOfPrevious))
    }

    /// A qualified-primitive node, or, when there are no qualifiers to carry over, libpcap's error
    /// for that kind of operand with an explanation after it.
    func qualify(_ identifier: Identifier, _ carried: Carried, _ inherited: Bool, _ range: SourceRange) throws(ParseFailure) -> FilterExpression {
        guard let qualifiers = carried else {
            let start = min(range.start, source.count), end = min(max(range.end, start), source.count)
            let written = String(decoding: source[start..<end], as: UTF8.self)
            let libpcapMessage: String
            switch identifier {
            case .ipv6: libpcapMessage = "invalid qualifier against IPv6 address"
            case let .prefix(address, _) where address.contains(":"): libpcapMessage = "invalid qualifier against IPv6 address"
            case .prefix, .masked: libpcapMessage = "Mask syntax for networks only"
            case .mac: libpcapMessage = "ethernet address used in non-ether expression"
            case .number, .dotted, .name: libpcapMessage = "syntax error in filter expression"
            }
            throw .committed(FilterError(
                "\(libpcapMessage) ('\(written)' has no qualifier to take over from the primitive before it)", at: range))
        }
        return .qualified(qualifiers, identifier, inherited: inherited, range)
    }
}

extension Token {
    /// An operator that makes one level of the syntax tree: and, or, not, and arithmetic's
    /// binary operators and unary minus.
    var isOperator: Bool {
        switch kind {
        case .keyword(.and), .keyword(.or), .keyword(.not): true
        case .punctuation(.bang), .punctuation(.plus), .punctuation(.minus), .punctuation(.star), .punctuation(.slash),
             .punctuation(.percent), .punctuation(.ampersand), .punctuation(.bar), .punctuation(.caret),
             .punctuation(.shiftLeft), .punctuation(.shiftRight): true
        default: false
        }
    }
}
