/// The grammar of rules.conf, without the expressions' own grammar:
///
///     # comments start with '#', anywhere on a line
///     policy pass                  # verdict when no rule matches: pass (default) or drop
///     drop tcp dst port 22         # VERDICT EXPRESSION, first match wins
///     drop udp and (port 53 or \
///                   port 123)      # a trailing backslash continues the line
///
/// A backslash inside a comment does not continue a line. A line that is empty once its comment
/// is removed ends a continued statement.

import EBPF

/// One rule as written in the file, before its expression is compiled.
public struct RuleText: Hashable, Sendable {
    /// Position among the file's rules, from 0. Users see `index + 1` ("rule 1").
    public var index: Int
    /// 1-based line and column of the verdict word.
    public var line: Int
    public var column: Int
    public var verdict: Verdict
    /// The expression with comments removed and continued lines joined by single spaces.
    public var expression: String
    /// The rule's physical lines exactly as in the file, joined with newlines.
    public var source: String

    /// The rule's number as users see it: 1 for the first rule.
    public var number: Int { index + 1 }

    /// The joined statement and where the expression starts in it, to map errors back.
    var statement: JoinedLine
    var expressionOffset: Int
}

/// A rules.conf file read into its policy and rule texts. Expressions are not checked yet:
/// `Ruleset(compiling:)` does that. Useful alone to name rules (`stats`) from stored text.
public struct RulesFile: Sendable {
    /// The file name as given, used in messages.
    public var file: String
    /// What happens to a packet no rule matches; `.pass` unless the file says `policy drop`.
    public var policy: Verdict
    /// The 1-based line of the `policy` statement, nil when the file has none.
    public var policyLine: Int?
    public var rules: [RuleText]
    /// Named sets of addresses, prefixes or ports (`set web { 80, 443 }`), which rules use as
    /// `@web` where a host, net or port goes.
    public var sets: [String: [String]] = [:]
    /// `set NAME file PATH` statements: the path as written and the problem to report (at
    /// the path) when the file cannot be read. `Ruleset.parse` reads them.
    var setFiles: [(name: String, path: String, problem: @Sendable (String) -> RulesetDiagnostic)] = []
    /// The lines each set's statement spans (first...last), to write the set anew in place.
    var setStatementLines: [String: ClosedRange<Int>] = [:]
    /// Where each set's entries are written, to report a bad entry at its own place.
    var setEntryPlaces: [String: SetEntryPlaces] = [:]
    /// Sets whose statement, file or entries were reported as wrong: a rule using one says
    /// nothing more (the set's own problem is the one to fix).
    var failedSets: Set<String> = []

    var lines: SourceLines

    /// Reads rules.conf text. Every problem in the file is reported, not only the first.
    public static func parse(_ text: String, file: String) throws(RulesetError) -> RulesFile {
        let (result, problems) = read(text, file: file)
        if !problems.isEmpty { throw RulesetError(problems) }
        return result
    }

    /// Reads what it can of the file, and the problems it found on the way.
    static func read(_ text: String, file: String) -> (RulesFile, [RulesetDiagnostic]) {
        let lines = SourceLines(text)
        var result = RulesFile(file: file, policy: .pass, policyLine: nil, rules: [], lines: lines)
        var problems: [RulesetDiagnostic] = []
        let (statements, dangling) = lines.joinedLines()
        for statement in statements {
            problems += result.read(statement)
        }
        if let line = dangling {
            let end = lines.lines[line - 1].utf8.count
            problems.append(lines.diagnostic(file: file, line: line, lineOffset: max(end - 1, 0),
                                             "the last line ends with '\\' but the file ends there: remove the backslash or finish the rule"))
        }
        return (result, problems)
    }

    /// Adds one statement: the policy, a set or a rule. Returns the problems with it.
    private mutating func read(_ statement: JoinedLine) -> [RulesetDiagnostic] {
        let words = Word.split(statement.text)
        let keyword = words[0]
        func problem(at word: Word, _ message: String) -> RulesetDiagnostic {
            lines.diagnostic(file: file, in: statement, from: word.start, to: word.end, message)
        }
        switch keyword.text {
        case "policy":
            guard words.count >= 2 else {
                return [problem(at: keyword, "'policy' needs a verdict: 'policy pass' or 'policy drop'")]
            }
            guard let verdict = Verdict(rawValue: words[1].text) else {
                return [problem(at: words[1], "unknown policy '\(words[1].text)': expected 'pass' or 'drop'")]
            }
            if words.count > 2 {
                return [problem(at: words[2], "unexpected '\(words[2].text)' after 'policy \(words[1].text)'")]
            }
            if let first = policyLine {
                return [problem(at: keyword, "the policy is set twice (first on line \(first)): keep one")]
            }
            policy = verdict
            policyLine = statement.firstLine
        case "set":
            if words.count == 4, words[2].text == "file", sets[words[1].text] == nil, !setFiles.contains(where: { $0.name == words[1].text }) {
                let (lines, file, path) = (lines, file, words[3])
                setFiles.append((words[1].text, path.text, { lines.diagnostic(file: file, in: statement, from: path.start, to: path.end, $0) }))
                setStatementLines[words[1].text] = statement.firstLine...statement.lastLine
                return []
            }
            let (set, diagnostics) = readSet(statement, words, report: problem)
            if let set {
                sets[set.name] = set.entries
                setEntryPlaces[set.name] = set.places
                setStatementLines[set.name] = statement.firstLine...statement.lastLine
            }
            if !diagnostics.isEmpty, words.count >= 2, sets[words[1].text] == nil { failedSets.insert(words[1].text) }
            return diagnostics
        case "pass", "drop":
            let verdict = Verdict(rawValue: keyword.text)!
            guard words.count >= 2 else {
                return [problem(at: keyword, "'\(keyword.text)' needs an expression, as in '\(keyword.text) tcp port 22' (to decide packets no rule matches, write 'policy \(keyword.text)')")]
            }
            let offset = words[1].start
            let start = statement.place(ofOffset: 0)
            let source = lines.lines[(statement.firstLine - 1)..<statement.lastLine].joined(separator: "\n")
            rules.append(RuleText(index: rules.count, line: start.line,
                                  column: lines.column(line: start.line, lineOffset: start.lineOffset), verdict: verdict,
                                  expression: String(decoding: Array(statement.text.utf8)[offset...], as: UTF8.self),
                                  source: source, statement: statement, expressionOffset: offset))
            return []
        default:
            return [problem(at: keyword, "unknown statement '\(keyword.text)': a rule starts with 'pass' or 'drop', 'policy pass' or 'policy drop' sets the default, 'set NAME { ... }' names a set")]
        }
        return []
    }
}

extension RulesFile {
    /// Sets hold at most this many entries. A rule of a lookup shape (`src net @set`, `src net
    /// @set and tcp dst port @ports`) becomes one table entry per set entry, whatever its size.
    public static let maximumSetSize = 1_000_000
    /// A rule that is not a lookup shape is compiled as the written-out `or` of the set's
    /// entries: that takes sets of at most this many entries (compile time and program size
    /// grow with each entry, and the verifier's limits come soon after).
    public static let maximumWrittenOutSetSize = 1000

    /// `set NAME { ENTRY, ENTRY ... }` (commas or blanks between entries).
    fileprivate func readSet(_ statement: JoinedLine, _ words: [Word], report: (Word, String) -> RulesetDiagnostic)
        -> (set: (name: String, entries: [String], places: SetEntryPlaces)?, problems: [RulesetDiagnostic]) {
        func problem(_ word: Word, _ message: String) -> (set: (name: String, entries: [String], places: SetEntryPlaces)?, problems: [RulesetDiagnostic]) {
            (nil, [report(word, message)])
        }
        guard words.count >= 2 else { return problem(words[0], "'set' needs a name and entries: 'set web { 80, 443 }'") }
        let name = words[1]
        guard SetExpansion.isSetName(name.text) else {
            return problem(name, "a set's name is an ASCII letter or '_' followed by letters, digits, '_' or '-', as in 'set web_ports { ... }'")
        }
        if sets[name.text] != nil || setFiles.contains(where: { $0.name == name.text }) {
            return problem(name, "the set '\(name.text)' is defined twice: keep one")
        }
        guard words.count >= 3 else { return problem(name, "the set '\(name.text)' needs its entries: 'set \(name.text) { ... }'") }
        if words[2].text == "file" {
            return problem(words[2], "'set \(name.text) file' takes one path (a file with one entry a line)")
        }
        let bytes = Array(statement.text.utf8)
        guard words[2].text.hasPrefix("{") else {
            return problem(words[2], "expected '{' and entries ending with '}' after 'set \(name.text)'")
        }
        guard let close = bytes.lastIndex(of: UInt8(ascii: "}")), close > words[2].start else {
            // Unclosed, the set ran on to the end of the file: say where the '}' is missing.
            return (nil, [lines.diagnostic(file: file, in: statement, from: bytes.count, to: bytes.count + 1,
                                           "the set '\(name.text)' has no closing '}' (it opens on line \(statement.firstLine)), "
                                           + "so every line after it was read as its entries")])
        }
        if close + 1 < bytes.count, let trailing = Word.split(String(decoding: bytes[(close + 1)...], as: UTF8.self)).first {
            return (nil, [lines.diagnostic(file: file, in: statement, from: close + 1 + trailing.start, to: close + 1 + trailing.end,
                                           "unexpected '\(trailing.text)' after the set's '}'")])
        }
        // Split as bytes: sets may hold 100,000 entries, and Character iteration is slow.
        var entries: [String] = [], places: [SetEntryPlaces.Place] = []
        var index = words[2].start + 1
        while index < close {
            guard !RulesFile.separates(bytes[index]) else { index += 1; continue }
            let start = index
            while index < close, !RulesFile.separates(bytes[index]) { index += 1 }
            entries.append(String(decoding: bytes[start..<index], as: UTF8.self))
            let place = statement.place(ofOffset: start)
            places.append((place.line, place.lineOffset, index - start))
        }
        let entryPlaces = SetEntryPlaces(file: file, lines: lines, places: places)
        if let message = RulesFile.problem(withSet: name.text, entries) { return problem(name, message) }
        let forbidden = RulesFile.forbiddenEntries(entries, of: name.text, places: entryPlaces)
        return forbidden.isEmpty ? ((name.text, entries, entryPlaces), []) : (nil, forbidden)
    }

    private static func separates(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// What is wrong with a set's size, if anything.
    static func problem(withSet name: String, _ entries: [String]) -> String? {
        guard !entries.isEmpty else { return "the set '\(name)' is empty" }
        guard entries.count <= RulesFile.maximumSetSize else {
            return "the set '\(name)' has \(entries.count) entries; at most \(RulesFile.maximumSetSize)"
        }
        return nil
    }

    /// Bytes no set entry may hold in any use: they would end or change the expression the set
    /// is written into (`a(b`, `x@y`).
    static let forbiddenEntryBytes = Set("(){}@#!&|".utf8)

    /// Entries that are nothing in any use, each reported at its place.
    static func forbiddenEntries(_ entries: [String], of name: String, places: SetEntryPlaces) -> [RulesetDiagnostic] {
        entries.indices.filter { entries[$0].utf8.contains(where: forbiddenEntryBytes.contains) }.map {
            places.diagnostic(entry: $0, "'\(entries[$0])' in the set '\(name)' is not an address, prefix or port")
        }
    }
}

/// A blank-separated word of a statement and its UTF-8 range. The first word (the statement's
/// keyword) also ends before `(` or `!`, so `drop(tcp)` and `drop !udp` read as written.
struct Word {
    var text: String
    var start: Int
    var end: Int

    static func split(_ text: String) -> [Word] {
        var words: [Word] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            while index < bytes.count, SourceLines.isBlank(bytes[index]) { index += 1 }
            let start = index
            while index < bytes.count, !SourceLines.isBlank(bytes[index]) {
                if words.isEmpty, index > start, bytes[index] == UInt8(ascii: "(") || bytes[index] == UInt8(ascii: "!") { break }
                index += 1
            }
            if index > start {
                words.append(Word(text: String(decoding: bytes[start..<index], as: UTF8.self), start: start, end: index))
            }
        }
        return words
    }
}
