/// Rules with large sets without writing the sets out: `drop src net @blocklist` with 100,000
/// entries is one lookup entry per set entry, and the 100,000-term `or` it means is never
/// parsed or compiled for eBPF. Only where a rule with a set is not a lookup shape (or a
/// classic-BPF listing is asked for) is the `or` written out and compiled, up to
/// `RulesFile.maximumWrittenOutSetSize` entries.

import FilterLanguage
import EBPF
import FilterCompiler

extension SetExpansion {
    /// The lookups a rule using sets amounts to, or nil when it is not a lookup shape (then the
    /// sets are written out and the rule compiled as a filter, which also reports any mistake).
    ///
    /// The rule is parsed with each `QUALIFIERS @NAME` written out for the set's first entry
    /// only; a leaf that came from a set then stands for one primitive per entry, with the same
    /// qualifiers (later ids of an `or` inherit them, as in pcap-filter), each entry read as the
    /// lexer reads it. Entries the shortcut does not read (names, hex numbers, masks) make it
    /// give up, and the written-out `or` decides.
    static func lookupMatches(_ expression: String, sets: [String: [String]]) -> [LookupMatch]? {
        let firsts = sets.compactMapValues { $0.first.map { [$0] } }
        guard case let .success(representative) = expanding(expression, sets: firsts),
              let tree = try? FilterParser.parse(representative.text) else { return nil }
        let replacements = representative.replacements
        return MergeableRule.matches(tree) { leaf in
            guard let start = leaf.sourceStart,
                  let replacement = replacements.first(where: { $0.expanded.contains(start) }) else { return [leaf] }
            guard case let .qualified(qualifiers, _, inherited, range) = leaf, let entries = sets[replacement.name] else { return nil }
            var leaves: [FilterExpression] = []
            leaves.reserveCapacity(entries.count)
            for entry in entries {
                guard let identifier = identifier(entry) else { return nil }
                leaves.append(.qualified(qualifiers, identifier, inherited: inherited, range))
            }
            return leaves
        }
    }

    /// A set entry as the pcap-filter lexer classifies it, for the forms a lookup can take: a
    /// decimal number without a leading zero (the lexer reads `017` as octal), a dotted
    /// address, an IPv6 address, `ADDRESS/LENGTH`. Nil for anything else.
    static func identifier(_ entry: String) -> Identifier? {
        // On bytes: a set may hold 100,000 entries.
        func isDecimal(_ text: Substring.UTF8View) -> Bool {
            !text.isEmpty && text.count <= 10 && text.allSatisfy { $0 >= 48 && $0 <= 57 } && (text.count == 1 || text.first != 48)
        }
        func isDotted(_ text: Substring.UTF8View) -> Bool { text.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 46 } }
        let bytes = entry.utf8[...]
        let colon = bytes.contains(58)
        if let slash = bytes.firstIndex(of: 47) {
            let address = bytes[..<slash], length = bytes[bytes.index(after: slash)...]
            guard isDecimal(length), let bits = UInt32(Substring(length)), !address.isEmpty, colon || isDotted(address) else { return nil }
            return .prefix(String(Substring(address)), length: bits)
        }
        if colon { return .ipv6(entry) }
        if isDecimal(bytes) { return UInt32(entry).map { .number($0) } }
        if isDotted(bytes), bytes.contains(46) { return .dotted(entry) }
        return nil
    }

    /// When the rule is a lookup shape with the set's first entry alone, the first entry that
    /// keeps it from being one (to name it rather than the size of the set).
    static func entryThatIsNoLookup(in expression: String, set name: String, sets: [String: [String]]) -> String? {
        guard let entries = sets[name], let first = entries.first,
              lookupMatches(expression, sets: sets.merging([name: [first]]) { $1 }) != nil else { return nil }
        return entries.first { lookupMatches(expression, sets: sets.merging([name: [$0]]) { $1 }) == nil }
    }

    /// The first set a written-out rule would use that is too large to write out, and where it
    /// is named in `expression`.
    static func oversizedSet(in expression: String, sets: [String: [String]]) -> (name: String, range: SourceRange)? {
        guard case let .success(expanded) = expanding(expression, sets: sets.mapValues { _ in ["0"] }) else { return nil }
        for replacement in expanded.replacements where (sets[replacement.name]?.count ?? 0) > RulesFile.maximumWrittenOutSetSize {
            return (replacement.name, SourceRange(replacement.original.lowerBound, replacement.original.upperBound))
        }
        return nil
    }
}

extension FilterExpression {
    /// Where a leaf starts in the text (nil for the empty expression and inner nodes).
    var sourceStart: Int? {
        switch self {
        case let .qualified(_, _, _, range), let .proto(_, range), let .comparison(_, _, _, range), let .special(_, range):
            return range.start
        case let .not(_, range):
            return range.start
        case .empty, .and, .or:
            return nil
        }
    }
}

extension Ruleset {
    /// An expression compiled with this ruleset's sets written out as `or`s (`src net @bl` as
    /// `(src net A or B ...)`); errors point into `expression`.
    public func compile(expression: String, options: CompileOptions) throws(FilterError) -> FilterProgram {
        try Ruleset.compileWrittenOut(expression, sets: sets, options: options)
    }
}
