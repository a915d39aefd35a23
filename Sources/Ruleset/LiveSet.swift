/// `xdpfw set add|del`: a set's new entries worked out against the ruleset that runs, as the
/// lookup tables `apply` would fill for them, and the difference from the tables as they are.
///
/// A table entry's value is the first rule whose prefix contains the key, and the entries of
/// several rules and sets share tables, so adding or removing one prefix can change the values
/// of others (the prefixes under it). The change is therefore computed whole: the ruleset is
/// compiled with the old and with the new entries, and the two tables compared key by key. A
/// change that would need another program (a set used in a filter, an entry that makes a rule
/// no longer a lookup) is refused, naming the rule: only `apply` can change the program.
/// A rule in a packet classifier tests the set in tables of the set's own entries (an LPM trie
/// per family), whatever they are, so a change there touches only those tables.

import EBPF
import PacketFormats

/// Why a set cannot change live; nothing was changed.
public struct LiveSetError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

public struct LiveSetChange: Sendable {
    /// The set's entries after the change, in order.
    public var entries: [String]
    /// The ruleset text with the set's statement written anew (same lines for every rule).
    public var text: String
    /// What to write into each table (by table name): entries to add or overwrite, keys to
    /// delete, each with the value the table holds for it now (nil: none), to undo the change
    /// (a lookup in an LPM trie answers for the longest prefix, not the key itself).
    public var updates: [MapName: [(key: [UInt8], value: [UInt8], previous: [UInt8]?)]] = [:]
    public var deletions: [MapName: [(key: [UInt8], previous: [UInt8])]] = [:]
    /// Entries asked to be added that were there already.
    public var unchanged: [String] = []
    /// Entries the tables hold after the change, by table name (to check the room in each).
    public var tableSizes: [MapName: Int] = [:]

    public var isEmpty: Bool { updates.values.allSatisfy(\.isEmpty) && deletions.values.allSatisfy(\.isEmpty) }

    /// Works out the change to set `name` of the ruleset `text` (as pinned: sets written inline)
    /// loaded at `hook`: `adding` entries (those already there are left alone) or `removing`
    /// them (each must be there). Every problem is found before anything is changed.
    /// `pinnedEntries`: the names pinned beside the program, which say which of its tables are
    /// hash maps per prefix length (after live changes the text alone may not: a table that was
    /// empty is a trie whatever it holds now); nil: as `apply` would choose for `text`.
    public static func plan(text: String, file: String, set name: String, adding: [String] = [], removing: [String] = [],
                            pinnedEntries: [String]? = nil, hook: any HookContext) throws(LiveSetError) -> LiveSetChange {
        let source: RulesFile
        let old: Ruleset
        do {
            source = try RulesFile.parse(text, file: file)
            old = try Ruleset(compiling: source)
        } catch {
            throw LiveSetError("the pinned rules do not compile any more (\(error.description)): apply the rules file again")
        }
        guard let current = source.sets[name] else {
            let known = source.sets.keys.sorted()
            throw LiveSetError("no set '\(name)' in these rules" + (known.isEmpty ? "" : " (sets: \(known.joined(separator: ", ")))"))
        }
        let users = old.rules.filter { $0.uses(set: name) }
        // Rules in a packet classifier test the set in a table of its own (`PacketClassifier.setTests`).
        let classified = Set(old.classifierParts(minimumRun: nil).joined().joined())
        let lookupUsers = users.filter { !classified.contains($0.index) }
        if let filter = lookupUsers.first(where: { $0.lookupKind == nil }) {
            throw LiveSetError("rule \(filter.number) (line \(filter.line)) '\(filter.verdict.rawValue) \(filter.expression)' uses @\(name) "
                               + "in a filter compiled into the program, not in a lookup table, so the set cannot change live: "
                               + "edit the rules file and apply it again")
        }
        var entries = current
        var unchanged: [String] = []
        // Entries compare by what they mean: `10.9.0.2` is `10.9.0.2/32` (SetEntryKey).
        let adding = SetEntryKey.distinct(adding), removing = SetEntryKey.distinct(removing)
        if !adding.isEmpty {
            var present = Set(current.map(SetEntryKey.init))
            for entry in adding {
                if let message = RulesFile.problem(withEntry: entry, of: name) { throw LiveSetError(message) }
                if present.insert(SetEntryKey(entry)).inserted { entries.append(entry) } else { unchanged.append(entry) }
            }
            for entry in adding where !unchanged.contains(entry) {
                if RuleDecomposition.classifierSetEntry(entry) == nil, let rule = users.first(where: { classified.contains($0.index) }) {
                    throw LiveSetError("'\(entry)' cannot be in @\(name): rule \(rule.number) (line \(rule.line)) "
                                       + "'\(rule.verdict.rawValue) \(rule.expression)' is in the packet classifier, whose sets hold "
                                       + "IPv4 addresses and prefixes and IPv6 addresses and prefixes longer than /96 "
                                       + "(libpcap decides frames cut inside the address by the words a shorter prefix covers)")
                }
                if let rule = lookupUsers.first(where: { SetExpansion.lookupMatches($0.expression, sets: source.sets.merging([name: [entry]]) { $1 }) == nil }) {
                    throw LiveSetError("'\(entry)' cannot be in @\(name): rule \(rule.number) (line \(rule.line)) "
                                       + "'\(rule.verdict.rawValue) \(rule.expression)'"
                                       + (rule.setEntryRefusal(entry, set: name).map { ": " + $0 } ?? " needs \(rule.setEntryKind(name)) there"))
                }
                // Where no rule uses the set, as a lookup would take it: nothing else is pinned.
                if users.isEmpty, let message = SetEntryKey.problem(with: entry, of: name) { throw LiveSetError(message) }
            }
        }
        if !removing.isEmpty {
            let removed = Set(removing.map(SetEntryKey.init)), present = Set(current.map(SetEntryKey.init))
            if let missing = removing.first(where: { !present.contains(SetEntryKey($0)) }) {
                throw LiveSetError("'\(missing)' is not in @\(name) (see `xdpfw set list`)")
            }
            entries.removeAll { removed.contains(SetEntryKey($0)) }
            guard !entries.isEmpty else { throw LiveSetError("removing these would leave @\(name) empty, and a set has entries") }
        }
        guard entries.count <= RulesFile.maximumSetSize else {
            throw LiveSetError("@\(name) would have \(entries.count) entries; at most \(RulesFile.maximumSetSize)")
        }
        let newText = source.replacingSet(name, with: entries)
        var change = LiveSetChange(entries: entries, text: newText, unchanged: unchanged)
        guard entries != current else { return change }
        let newSets = source.sets.merging([name: entries]) { $1 }
        if !users.isEmpty, lookupUsers.isEmpty, let pinnedEntries,
           let classified = change.writingClassifierSetTables(users: users, set: name, old: current, sets: newSets, pinnedEntries: pinnedEntries) {
            return classified
        }
        if let stopped = lookupUsers.first(where: { SetExpansion.lookupMatches($0.expression, sets: newSets) == nil }) {
            throw LiveSetError("with these entries rule \(stopped.number) (line \(stopped.line)) '\(stopped.verdict.rawValue) \(stopped.expression)' "
                               + "would no longer be a lookup (with more than one entry, IPv6 prefixes must be longer than /96: "
                               + "libpcap's code for shorter ones decides truncated packets differently), so it would need a new program: "
                               + "edit the rules file and apply it again")
        }
        let new: Ruleset
        do {
            new = try Ruleset(compiling: RulesFile.parse(newText, file: file))
        } catch {
            throw LiveSetError("with the new entries the rules do not compile: \(error.description)")
        }
        // The running program's tables: hash maps per prefix length stay as they are where the
        // new prefixes fit their lengths, tries stay tries.
        var hashed: [MapName: [Int]] = [:]
        let applied = old.segments()
        for case let .lookup(group) in applied { hashed.merge(group.hashedLengths) { $1 } }
        if let pinnedEntries {
            let names = applied.flatMap { segment -> [MapName] in
                if case let .lookup(group) = segment { return group.layouts.map(\.name) }
                return []
            }
            hashed = LookupTable.hashedLengths(pinnedEntries: pinnedEntries, tables: names)
        }
        let oldSegments = LookupGroup.choosingHashTables(applied, keeping: hashed)
        let unhashed = new.segments()
        let newSegments = LookupGroup.choosingHashTables(unhashed, keeping: hashed)
        let sameProgram: Bool
        do {
            sameProgram = try old.ebpfProgram(segments: oldSegments, hook: hook) == new.ebpfProgram(segments: newSegments, hook: hook)
        } catch {
            throw LiveSetError("the program for these rules cannot be generated (\(error)), so the change cannot be checked against it: "
                               + "edit the rules file and apply it again")
        }
        let oldTables = Ruleset.lookupTables(segments: oldSegments, hook: hook)
        let newTables = Ruleset.lookupTables(segments: newSegments, hook: hook)
        var newLengths: [MapName: Set<Int>] = [:]
        for case let .lookup(group) in unhashed { newLengths.merge(group.lengthsByTableName) { $0.union($1) } }
        if let (table, lengths) = hashed.sorted(by: { $0.key < $1.key }).first(where: { !(newLengths[$0.key] ?? []).isSubset(of: $0.value) }) {
            let other = (newLengths[table] ?? []).subtracting(lengths).sorted().map { "/\($0)" }.joined(separator: ", ")
            throw LiveSetError("the table \(table) is a hash map per prefix length (\(lengths.map { "/\($0)" }.joined(separator: ", "))), "
                               + "the fastest lookup for few lengths, and a prefix of another length (\(other)) needs a new program: "
                               + "edit the rules file and apply it again")
        }
        guard sameProgram, oldTables.map(\.name) == newTables.map(\.name), oldTables.map(\.isHash) == newTables.map(\.isHash),
              oldTables.map(\.arrayLength) == newTables.map(\.arrayLength) else {
            let rules = users.map { "rule \($0.number) (line \($0.line))" }.joined(separator: ", ")
            throw LiveSetError("with these entries \(rules) would need a different program (a rule would stop being a lookup, "
                               + "or its tables change kind): edit the rules file and apply it again")
        }
        for (before, after) in zip(oldTables, newTables) {
            var oldValues = [[UInt8]: [UInt8]](minimumCapacity: before.entries.count)
            for entry in before.entries { oldValues[entry.key] = entry.value }
            var updates: [(key: [UInt8], value: [UInt8], previous: [UInt8]?)] = []
            var kept = Set<[UInt8]>()
            for entry in after.entries {
                kept.insert(entry.key)
                if oldValues[entry.key] != entry.value { updates.append((entry.key, entry.value, oldValues[entry.key])) }
            }
            let removed = before.entries.filter { !kept.contains($0.key) }.map { ($0.key, $0.value) }
            if after.arrayLength != nil {
                // An array's entries are never absent: a removed one is zeroed (slot 0: no rule).
                let empty = [UInt8](repeating: 0, count: LookupTable.slotValueSize)
                change.updates[after.name] = updates.map { ($0.key, $0.value, $0.previous ?? empty) }
                    + removed.map { ($0.0, empty, $0.1) }
                change.deletions[after.name] = []
            } else {
                change.updates[after.name] = updates
                change.deletions[after.name] = removed
            }
            change.tableSizes[after.name] = after.entries.count
        }
        return change
    }
}

extension LiveSetChange {
    /// This change (its `entries` those of set `name` after it) when every rule that uses the
    /// set is in a packet classifier: only the set's own tables change (`PacketClassifier.setTable`,
    /// one LPM trie per family, shared by classifiers), so neither the ruleset nor the program
    /// is worked out again — 10,000 rules compiled twice and their tables compared took most of
    /// a `set add`. Each user is checked to compile with the new entries and to decompose as
    /// before; nil when one does not, or when a table is not pinned (the whole change is then
    /// worked out and explains itself).
    fileprivate func writingClassifierSetTables(users: [Rule], set name: String, old: [String], sets: [String: [String]],
                                                pinnedEntries: [String]) -> LiveSetChange? {
        for user in users {
            guard (try? Ruleset.checkWrittenOut(user.expression, sets: sets, options: .init())) != nil,
                  ClassifierBuilder.conjunctions(ofSetRule: user.expression, sets: sets) == user.conjunctions else { return nil }
        }
        let before = Set(old.compactMap(RuleDecomposition.classifierSetEntry))
        let after = entries.compactMap(RuleDecomposition.classifierSetEntry)
        guard after.count == entries.count else { return nil }
        // Both families' tables are made whatever the set holds: one missing is a program this
        // computation does not know.
        let pinned = Set(pinnedEntries)
        guard AddressFamily.allCases.allSatisfy({ pinned.contains(PacketClassifier.setTable(name, $0).pinEntry) }) else { return nil }
        let added = Set(after).subtracting(before), removed = before.subtracting(after)
        func tableEntries(_ prefixes: Set<AddressPrefix>, _ family: AddressFamily) -> [(key: [UInt8], value: [UInt8])] {
            prefixes.filter { $0.family == family }.sorted(by: ClassifierBuilder.prefixOrder).map(PacketClassifier.setTableEntry)
        }
        var change = self
        for family in AddressFamily.allCases {
            let table = PacketClassifier.setTable(name, family)
            change.updates[table] = tableEntries(added, family).map { ($0.key, $0.value, nil) }
            change.deletions[table] = tableEntries(removed, family).map { ($0.key, $0.value) }
            change.tableSizes[table] = Set(after.filter { $0.family == family }).count
        }
        return change
    }
}

extension Rule {
    /// True when the rule's expression names `@name`.
    func uses(set name: String) -> Bool {
        SetExpansion.references(in: Array(expression.utf8)).contains { $0.name == name }
    }

    /// The expression's text before its first `@name` (all of it when it names no such set).
    func text(before name: String) -> String {
        let bytes = Array(expression.utf8)
        guard let first = SetExpansion.references(in: bytes).first(where: { $0.name == name }) else { return expression }
        return String(decoding: bytes[..<first.range.lowerBound], as: UTF8.self)
    }

    /// What an entry of set `name` must be in this rule, for messages: it depends on the word
    /// before `@name` (`host`, `net`, `port`).
    func setEntryKind(_ name: String) -> String {
        switch Word.split(text(before: name)).last?.text {
        case "host"?: return "an IPv4 or IPv6 address"
        case "port"?: return "a port number (0 to 65535)"
        default: return "an IPv4 address or prefix, or an IPv6 address or prefix longer than /96"
        }
    }
}

extension RulesFile {
    /// The text with set `name`'s statement written as `set NAME { ENTRY, ... }` on its first
    /// line and its other lines left empty, so every rule stays on its line.
    func replacingSet(_ name: String, with entries: [String]) -> String {
        var lines = self.lines.lines
        if let span = setStatementLines[name] {
            lines[span.lowerBound - 1] = "set \(name) { \(entries.joined(separator: ", ")) }"
            for line in span.dropFirst() { lines[line - 1] = "" }
        } else {
            lines.append("set \(name) { \(entries.joined(separator: ", ")) }")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The text to pin for a ruleset: every `set NAME file PATH` written out with the entries
    /// read from the file, so that what is pinned says what runs, whatever becomes of the file.
    public static func pinnedText(_ text: String, file: String, sets: [String: [String]]) -> String {
        guard let source = try? RulesFile.parse(text, file: file), !source.setFiles.isEmpty else { return text }
        var result = source
        for setFile in source.setFiles {
            guard let entries = sets[setFile.name] else { continue }
            let rewritten = result.replacingSet(setFile.name, with: entries)
            result.lines = SourceLines(rewritten)
        }
        return result.lines.lines.joined(separator: "\n") + "\n"
    }

    /// What is wrong with one entry of set `name`, if anything.
    static func problem(withEntry entry: String, of name: String) -> String? {
        // Beside what no entry may hold, what would split it into several in a `set add` or the rules text.
        if entry.isEmpty || entry.utf8.contains(where: { RulesFile.forbiddenEntryBytes.contains($0) || ",; \t".utf8.contains($0) }) {
            return "'\(entry)' is not an address, prefix or port for @\(name)"
        }
        return nil
    }
}
