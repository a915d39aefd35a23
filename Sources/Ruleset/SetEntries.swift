/// Where a set's entries are written, and which of them a rule cannot use: a bad entry is
/// reported at its own `file:line:column` (in the rules file, or in the set's own file), every
/// one of them, once, and a rule using that set reports nothing more.

import FilterLanguage
import FilterCompiler

/// The places of one set's entries, in the file that holds them.
struct SetEntryPlaces: Sendable {
    /// An entry's 1-based line, UTF-8 offset in the line, and UTF-8 length.
    typealias Place = (line: Int, lineOffset: Int, length: Int)

    /// The rules file, or the set's file (`set NAME file PATH`), as messages name it.
    var file: String
    var lines: SourceLines
    /// One per entry, in the set's order.
    var places: [Place]

    func diagnostic(entry index: Int, _ message: String) -> RulesetDiagnostic {
        let place = places[index]
        return lines.diagnostic(file: file, line: place.line, lineOffset: place.lineOffset, length: place.length, message)
    }

    /// A set file's entries and their places: one a line, `#` comments and blank lines ignored.
    static func reading(file: String, text: String) -> (entries: [String], places: SetEntryPlaces) {
        let lines = SourceLines(text)
        var entries: [String] = [], places: [Place] = []
        for (index, line) in lines.lines.enumerated() {
            let bytes = line.utf8.prefix { $0 != UInt8(ascii: "#") }
            guard let start = bytes.firstIndex(where: { !SourceLines.isBlank($0) }),
                  let last = bytes.lastIndex(where: { !SourceLines.isBlank($0) }) else { continue }
            entries.append(String(decoding: bytes[start...last], as: UTF8.self))
            let offset = line.utf8.distance(from: line.utf8.startIndex, to: start)
            places.append((index + 1, offset, line.utf8.distance(from: start, to: last) + 1))
        }
        return (entries, SetEntryPlaces(file: file, lines: lines, places: places))
    }
}

extension SetExpansion {
    /// The sets an expression names (`@NAME`), in order, each once.
    static func setNames(in expression: String) -> [String] {
        var names: [String] = []
        for (name, _) in references(in: Array(expression.utf8)) where !name.isEmpty && !names.contains(name) { names.append(name) }
        return names
    }

    /// Whether `name` can be written after `@`: an ASCII letter or `_`, then letters, digits, `_`, `-`.
    static func isSetName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z") || first == UInt8(ascii: "_") else {
            return false
        }
        return name.utf8.allSatisfy(isNameByte)
    }

    /// The entries of a set that its use `QUALIFIERS @NAME` (`usage`, e.g. `src net @bl`) cannot
    /// take, with the compiler's reason for each. Halves that a lookup takes whole are good
    /// without compiling an entry, so one bad entry among 100,000 costs a few lookup checks; only
    /// single entries are compiled, at most `maximumWrittenOutSetSize` of them. Empty when the
    /// use has no qualifier to judge an entry by (`tcp or @web`).
    static func badEntries(_ entries: [String], usage: String, name: String, options: CompileOptions) -> [(index: Int, message: String)] {
        let qualifiers = usage.split(separator: " ").dropLast().map(String.init)
        guard qualifiers.contains(where: { ["host", "net", "port", "portrange", "src", "dst"].contains($0) }) else { return [] }
        var bad: [(index: Int, message: String)] = []
        var compiled = 0
        func check(_ range: Range<Int>) {
            guard compiled < RulesFile.maximumWrittenOutSetSize,
                  lookupMatches(usage, sets: [name: Array(entries[range])]) == nil else { return }
            guard range.count == 1 else {
                let middle = range.lowerBound + range.count / 2
                check(range.lowerBound..<middle)
                check(middle..<range.upperBound)
                return
            }
            compiled += 1
            do {
                _ = try Ruleset.compileWrittenOut(usage, sets: [name: [entries[range.lowerBound]]], options: options)
            } catch {
                bad.append((range.lowerBound, error.message))
            }
        }
        check(0..<entries.count)
        return bad
    }
}

extension RulesFile {
    /// Every entry of the sets `rule` uses that the rule cannot take, at the entry's own place,
    /// and the sets they are in. Sets without known places (written anew by `set add`) give none.
    func badEntryProblems(of rule: RuleText, options: CompileOptions) -> (problems: [RulesetDiagnostic], sets: Set<String>) {
        guard case let .success(expanded) = SetExpansion.expanding(rule.expression, sets: sets.mapValues { _ in ["0"] }) else { return ([], []) }
        var problems: [RulesetDiagnostic] = [], failed: Set<String> = []
        let bytes = Array(rule.expression.utf8)
        for replacement in expanded.replacements where !failed.contains(replacement.name) {
            guard let entries = sets[replacement.name], let places = setEntryPlaces[replacement.name] else { continue }
            let usage = String(decoding: bytes[replacement.original], as: UTF8.self)
            let bad = SetExpansion.badEntries(entries, usage: usage, name: replacement.name, options: options)
            guard !bad.isEmpty else { continue }
            failed.insert(replacement.name)
            problems += bad.map { bad in
                places.diagnostic(entry: bad.index, "\(bad.message) (an entry of the set '\(replacement.name)', "
                                  + "which rule \(rule.number) on line \(rule.line) uses as '\(usage)')")
            }
        }
        return (problems, failed)
    }
}
