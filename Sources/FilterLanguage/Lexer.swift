import PacketFormats

/// The scanner: pcap-filter text to tokens, with libpcap's rules for which shape wins.
///
/// Like libpcap's scanner, each token is the longest text any token shape matches at that point;
/// on a tie the earlier shape wins, in this order: reserved word, operator, ARCnet address,
/// Ethernet address, number, dotted number, IPv6 address, malformed Ethernet address, named
/// constant, name. A backslash makes the rest of a word a name (`\tcp` is the name `tcp`).

enum Punctuation: String, Hashable, Sendable {
    case openParen = "(", closeParen = ")", openBracket = "[", closeBracket = "]", colon = ":"
    case plus = "+", minus = "-", star = "*", slash = "/", percent = "%"
    case ampersand = "&", bar = "|", caret = "^", shiftLeft = "<<", shiftRight = ">>"
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case bang = "!"
}

enum TokenKind: Hashable, Sendable {
    case keyword(Keyword)
    case punctuation(Punctuation)
    /// NUM, including the named constants.
    case number(UInt32)
    /// HID: one to four dotted numbers (a single number is a `.number`).
    case dotted(String)
    /// HID6
    case ipv6(String)
    /// EID
    case mac(String)
    /// AID: `$` and one or two hex digits (ARCnet).
    case arcnet(String)
    /// ID
    case name(String)
    /// Something the scanner refused; `message` is nil for a character no token starts with
    /// (a syntax error), or libpcap's message (`number 08 contains non-octal digit`).
    case invalid(message: String?)
    case end
}

struct Token: Hashable, Sendable {
    var kind: TokenKind
    var range: SourceRange
    var text: String
}

struct Lexer {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// All tokens, ending with `.end` (whose range is just past the text).
    static func tokens(_ text: String) -> [Token] {
        var lexer = Lexer(text)
        var result: [Token] = []
        while true {
            let token = lexer.next()
            result.append(token)
            if token.kind == .end { return result }
        }
    }

    mutating func next() -> Token {
        while position < bytes.count, Self.isSpace(bytes[position]) { position += 1 }
        let start = position
        guard start < bytes.count else {
            return Token(kind: .end, range: SourceRange(at: bytes.count), text: "")
        }
        let (length, kind) = longestMatch(at: start)
        position = start + length
        return Token(kind: kind, range: SourceRange(start, position), text: text(start, position))
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private func byte(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Each shape's match length in priority order; the longest wins, the first on a tie.
    private func longestMatch(at start: Int) -> (Int, TokenKind) {
        var best: (Int, () -> TokenKind)? = nil
        func offer(_ length: Int, _ kind: @escaping () -> TokenKind) {
            if length > 0, length > (best?.0 ?? 0) { best = (length, kind) }
        }
        let word = wordMatch(at: start)
        if let word, let keyword = Vocabulary.keywords[word.text] { offer(word.length) { .keyword(keyword) } }
        let punctuation = punctuationMatch(at: start)
        if let punctuation { offer(punctuation.length) { .punctuation(punctuation.kind) } }
        offer(arcnetLength(at: start)) { .arcnet(text(start + 1, start + arcnetLength(at: start))) }
        let mac = macLength(at: start)
        offer(mac) { .mac(text(start, start + mac)) }
        let number = numberLength(at: start)
        offer(number) { Self.numberValue(text(start, start + number)) }
        let dotted = dottedLength(at: start)
        offer(dotted) { .dotted(text(start, start + dotted)) }
        let ipv6 = ipv6Length(at: start)
        offer(ipv6) {
            let address = text(start, start + ipv6)
            return Self.isValidIPv6(address) ? .ipv6(address) : .invalid(message: "bogus IPv6 address \(address)")
        }
        let bogus = bogusMACLength(at: start)
        offer(bogus) { .invalid(message: "bogus ethernet address \(text(start, start + bogus))") }
        if let word, let value = Vocabulary.namedConstants[word.text] { offer(word.length) { .number(value) } }
        let name = nameLength(at: start)
        offer(name) { .name(text(start, start + name)) }
        let escaped = escapedNameLength(at: start)
        offer(escaped) { .name(text(start + 1, start + escaped)) }
        if let best { return (best.0, best.1()) }
        // No token starts here: one whole character, so the caret covers it.
        var end = start + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return (end - start, .invalid(message: nil))
    }

    // MARK: Shapes

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0D || b == 0x0A || b == 0x09 }
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66) }
    static func isAlphanumeric(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) }

    /// The longest reserved word or named constant that the text starts with, if any. Reserved
    /// words are letters, digits and `-`, or `&&`/`||`.
    private func wordMatch(at start: Int) -> (text: String, length: Int)? {
        var end = start
        while end < bytes.count, end - start < Vocabulary.longestWord,
              Self.isAlphanumeric(bytes[end]) || bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: "&")
                || bytes[end] == UInt8(ascii: "|") {
            end += 1
        }
        while end > start {
            let candidate = text(start, end)
            if Vocabulary.keywords[candidate] != nil || Vocabulary.namedConstants[candidate] != nil {
                return (candidate, end - start)
            }
            end -= 1
        }
        return nil
    }

    /// An operator; `==` is `=`.
    private func punctuationMatch(at start: Int) -> (kind: Punctuation, length: Int)? {
        guard let first = byte(start) else { return nil }
        if let second = byte(start + 1) {
            let pair = String(decoding: [first, second], as: UTF8.self)
            if pair == "==" { return (.equal, 2) }
            if let p = Punctuation(rawValue: pair), pair.utf8.count == 2 { return (p, 2) }
        }
        return Punctuation(rawValue: String(decoding: [first], as: UTF8.self)).map { ($0, 1) }
    }

    /// `$` and one or two hex digits.
    private func arcnetLength(at start: Int) -> Int {
        guard byte(start) == UInt8(ascii: "$") else { return 0 }
        let digits = hexRun(at: start + 1, max: 2)
        return digits == 0 ? 0 : 1 + digits
    }

    private func hexRun(at start: Int, max: Int) -> Int {
        var n = 0
        while n < max, let b = byte(start + n), Self.isHex(b) { n += 1 }
        return n
    }

    /// `B:B:B:B:B:B`, `B-B-B-B-B-B`, `B.B.B.B.B.B` (B one or two hex digits), `HHHH.HHHH.HHHH`,
    /// `HHHHHHHHHHHH`.
    private func macLength(at start: Int) -> Int {
        var best = 0
        for separator in [":", "-", "."].map({ UInt8(ascii: $0) }) {
            var at = start
            var parts = 0
            while parts < 6 {
                if parts > 0 {
                    guard byte(at) == separator else { break }
                    at += 1
                }
                let digits = hexRun(at: at, max: 2)
                guard digits > 0 else { break }
                at += digits
                parts += 1
            }
            if parts == 6 { best = max(best, at - start) }
        }
        if hexRun(at: start, max: 4) == 4, byte(start + 4) == UInt8(ascii: "."),
           hexRun(at: start + 5, max: 4) == 4, byte(start + 9) == UInt8(ascii: "."),
           hexRun(at: start + 10, max: 4) == 4 {
            best = max(best, 14)
        }
        if hexRun(at: start, max: 12) == 12 { best = max(best, 12) }
        return best
    }

    /// Decimal digits, or `0x`/`0X` and hex digits.
    private func numberLength(at start: Int) -> Int {
        var decimal = 0
        while let b = byte(start + decimal), Self.isDigit(b) { decimal += 1 }
        if byte(start) == UInt8(ascii: "0"), byte(start + 1) == UInt8(ascii: "x") || byte(start + 1) == UInt8(ascii: "X") {
            var n = 0
            while let b = byte(start + 2 + n), Self.isHex(b) { n += 1 }
            if n > 0 { return max(decimal, 2 + n) }
        }
        return decimal
    }

    /// Two to four numbers joined by dots.
    private func dottedLength(at start: Int) -> Int {
        var at = start
        var parts = 0
        var best = 0
        while parts < 4 {
            if parts > 0 {
                guard byte(at) == UInt8(ascii: ".") else { break }
            }
            let n = numberLength(at: parts > 0 ? at + 1 : at)
            guard n > 0 else { break }
            at += (parts > 0 ? 1 : 0) + n
            parts += 1
            if parts >= 2 { best = at - start }
        }
        return best
    }

    /// The longest prefix shaped like an IPv6 address (libpcap's scanner patterns: eight groups,
    /// or fewer around one `::`, the last two groups possibly written as dotted numbers).
    private func ipv6Length(at start: Int) -> Int {
        var end = start
        while end < bytes.count, end - start < 64,
              Self.isHex(bytes[end]) || bytes[end] == UInt8(ascii: ":") || bytes[end] == UInt8(ascii: ".")
                || bytes[end] == UInt8(ascii: "x") || bytes[end] == UInt8(ascii: "X") {
            end += 1
        }
        while end - start >= 2 {
            if Self.isIPv6Shaped(Array(bytes[start..<end])) { return end - start }
            end -= 1
        }
        return 0
    }

    static func isIPv6Shaped(_ s: [UInt8]) -> Bool {
        let colon = UInt8(ascii: ":")
        func groups(_ part: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
            part.isEmpty ? [] : part.split(separator: colon, omittingEmptySubsequences: false)
        }
        var all: [ArraySlice<UInt8>]
        var compressed = false
        if let gap = s.indices.dropLast().first(where: { s[$0] == colon && s[$0 + 1] == colon }) {
            compressed = true
            all = groups(s[..<gap]) + groups(s[(gap + 2)...])
        } else {
            all = groups(s[...])
        }
        var count = 0
        for (index, group) in all.enumerated() {
            if !group.isEmpty, group.count <= 4, group.allSatisfy(isHex) {
                count += 1
            } else if index == all.count - 1, group.last != nil, s.last != colon, isDottedQuadShaped(Array(group)) {
                count += 2
            } else {
                return false
            }
        }
        return compressed ? count <= 7 : count == 8
    }

    private static func isDottedQuadShaped(_ s: [UInt8]) -> Bool {
        let parts = s.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            let p = Array(part)
            if p.count > 2, p[0] == UInt8(ascii: "0"), p[1] | 0x20 == UInt8(ascii: "x") { return p.dropFirst(2).allSatisfy(isHex) }
            return !p.isEmpty && p.allSatisfy(isDigit)
        }
    }

    /// What the system's numeric address parser also accepts: the dotted part decimal, each
    /// number at most 255 without leading zeros.
    static func isValidIPv6(_ address: String) -> Bool {
        guard let last = address.split(separator: ":", omittingEmptySubsequences: false).last,
              last.contains(".") else { return true }
        return AddressText.dottedBytes(String(last), spelling: .canonical) != nil
    }

    /// `B:` then one or more `B:` (colons may repeat): an address libpcap calls bogus.
    private func bogusMACLength(at start: Int) -> Int {
        var at = start
        var groups = 0
        var best = 0
        while true {
            let digits = hexRun(at: at, max: 2)
            guard digits > 0, byte(at + digits) == UInt8(ascii: ":") else { break }
            at += digits
            while byte(at) == UInt8(ascii: ":") { at += 1 }
            groups += 1
            if groups >= 2 { best = at - start }
        }
        return best
    }

    /// A letter or digit, then letters, digits, `-`, `_`, `.`, not ending in `-` or `_`.
    private func nameLength(at start: Int) -> Int {
        guard let first = byte(start), Self.isAlphanumeric(first) else { return 0 }
        var end = start + 1
        var lastGood = end
        while let b = byte(end), Self.isAlphanumeric(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") {
            end += 1
            if b != UInt8(ascii: "-"), b != UInt8(ascii: "_") { lastGood = end }
        }
        return lastGood - start
    }

    /// `\` and everything up to a space, tab, newline, `!`, `(` or `)`.
    private func escapedNameLength(at start: Int) -> Int {
        guard byte(start) == UInt8(ascii: "\\") else { return 0 }
        var end = start + 1
        while let b = byte(end), b != 0x20, b != 0x0A, b != 0x09, b != UInt8(ascii: "!"),
              b != UInt8(ascii: "("), b != UInt8(ascii: ")") {
            end += 1
        }
        return end - start == 1 ? 0 : end - start
    }

    /// libpcap's number rules: a leading `0x` is hex, a leading `0` octal; more than 32 bits or
    /// a non-octal digit is an error.
    static func numberValue(_ text: String) -> TokenKind {
        var digits = Substring(text)
        var radix: UInt64 = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0") {
            radix = 8
        }
        var value: UInt64 = 0
        for c in digits.utf8 {
            let digit: UInt64
            if isDigit(c) { digit = UInt64(c - 0x30) } else { digit = UInt64((c | 0x20) - 0x61 + 10) }
            if digit >= radix { return .invalid(message: "number \(text) contains non-octal digit") }
            value = value * radix + digit
            if value > UInt64(UInt32.max) { return .invalid(message: "number \(text) overflows 32 bits") }
        }
        return .number(UInt32(value))
    }
}
