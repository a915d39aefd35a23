/// A rules.conf file compiled: the policy and, for each rule, its filter program. First match
/// wins; a packet no rule matches gets the policy.

import FilterLanguage
import FilterCompiler
import EBPF
import PacketFormats

/// One compiled rule: the rule as written and its filter program.
public struct Rule: Hashable, Sendable {
    /// Where the rule is in the file and what it says.
    public var text: RuleText
    /// What the rule tests when it is a shape that runs of rules can share a lookup for
    /// (`src net P`, `src host A or B`, `src net P and tcp dst port Q`...), empty otherwise: it
    /// matches when any of these does. All have the same kind.
    public var lookupMatches: [LookupMatch]
    /// The kind of lookup the rule joins, nil when it is a filter.
    public var lookupKind: LookupKind? { lookupMatches.first?.kind }
    /// The compiled expression; nil for a rule whose lookup says all (compiled when asked for,
    /// so that a file of 100,000 host rules is not put through the optimizer rule by rule).
    var compiled: FilterProgram?
    var optimize = true
    var snapLength: UInt32 = 262144
    /// The file's sets, when the rule uses some (`src net @x`); empty otherwise. `program`
    /// compiles the expression with them written out (`(src net A or B)`).
    var sets: [String: [String]] = [:]
    /// True when the rule is a lookup that names a set (`@NAME`).
    public var usesSets: Bool { !sets.isEmpty }
    /// The file's sets for a rule that runs only in a packet classifier (`runsOnlyInClassifier`).
    private var writtenOutSets: [String: [String]] = [:]
    /// The rule as field constraints the packet classifier reads (`ClassifierBuilder.accepts`),
    /// nil when it does not decompose so, or is a lookup that names a set (it stays a lookup,
    /// which `xdpfw set` changes). A rule that names sets otherwise tests membership of each
    /// (`FieldConjunction.sourceSets`), whatever the sets hold.
    public internal(set) var conjunctions: [FieldConjunction]?
    /// True when the rule tests VLAN tags (`vlan`, or a test of the tag's bytes): at XDP a NIC
    /// may take the tag out of the frame, and `apply` binds the program to the device to read it.
    public internal(set) var testsVLANTags = false

    public init(text: RuleText, program: FilterProgram, lookupMatches: [LookupMatch] = []) {
        self.text = text
        self.compiled = program
        self.lookupMatches = lookupMatches
    }

    /// A rule known by its lookup alone; `program` compiles it on demand with `options`.
    init(text: RuleText, lookupMatches: [LookupMatch], options: CompileOptions) {
        self.text = text
        self.lookupMatches = lookupMatches
        optimize = options.optimize
        snapLength = options.snapLength
    }

    /// A rule with a set too large to write out as an `or` that a packet classifier can take
    /// (`conjunctions`): it runs only there, where the set is a table of its own.
    init(text: RuleText, classifiedWith sets: [String: [String]], conjunctions: [FieldConjunction], options: CompileOptions) {
        self.text = text
        self.lookupMatches = []
        self.conjunctions = conjunctions
        writtenOutSets = sets
        optimize = options.optimize
        snapLength = options.snapLength
    }

    /// True for a rule that runs only in a packet classifier (its set is too large to write
    /// out, so it has no program of its own).
    public var runsOnlyInClassifier: Bool { compiled == nil && lookupMatches.isEmpty }

    /// True when the rule, in a packet classifier, tests sets there (`FieldConjunction.sourceSets`...):
    /// a classifier is made for it however few rules could go in.
    public var testsSetsInClassifier: Bool {
        conjunctions?.contains { !$0.sourceSets.isEmpty || !$0.destinationSets.isEmpty } ?? false
    }

    /// The compiled expression: it accepts (returns non-zero) exactly the packets the rule matches.
    /// Throws when it cannot be compiled (a lookup rule with a set too large to write out as an
    /// `or`): such a rule runs only as a lookup, never as a program that silently matches nothing.
    public var program: FilterProgram {
        get throws(FilterError) { try writtenOutProgram() }
    }

    /// The compiled expression, its sets written out as `or`s; an error (its range in
    /// `expression`) when that cannot be compiled, e.g. a set with more than
    /// `RulesFile.maximumWrittenOutSetSize` entries.
    public func writtenOutProgram() throws(FilterError) -> FilterProgram {
        if let compiled { return compiled }
        var options = CompileOptions()
        options.optimize = optimize
        options.snapLength = snapLength
        return try Ruleset.compileWrittenOut(text.expression, sets: sets.isEmpty ? writtenOutSets : sets, options: options)
    }

    /// Position among the rules, from 0. Users see `number` (`index + 1`).
    public var index: Int { text.index }
    /// The rule's number as users see it: 1 for the first rule.
    public var number: Int { text.number }
    /// 1-based line and column of the verdict word in the file.
    public var line: Int { text.line }
    public var column: Int { text.column }
    public var verdict: Verdict { text.verdict }
    /// The expression with comments removed and continued lines joined by single spaces.
    public var expression: String { text.expression }
}

/// Why a set's file could not be read.
public struct SetFileError: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

public struct Ruleset: Hashable, Sendable {
    /// The file name as given, used in messages.
    public var file: String
    /// What happens to a packet no rule matches.
    public var policy: Verdict
    public var rules: [Rule]
    /// The file's sets with their entries (those of `set NAME file PATH` read from the file).
    public var sets: [String: [String]] = [:]
    /// At least this many rules that decompose, wherever they stand, become a packet classifier
    /// (`defaultClassifierMinimumRun`; `Int.max`: never).
    public var classifierMinimumRun = Ruleset.defaultClassifierMinimumRun
    /// Classifiers of more entries than this scan by row summaries (`ClassifierBuilder.summaryThreshold`).
    public var classifierSummaryThreshold = ClassifierBuilder.summaryThreshold
    /// The most rules one classifier takes (`defaultClassifierMaximumRules`; tests make it small).
    public var classifierMaximumRules = Ruleset.defaultClassifierMaximumRules

    public init(file: String, policy: Verdict, rules: [Rule]) {
        self.file = file; self.policy = policy; self.rules = rules
    }

    /// Reads and compiles rules.conf text. Every problem in the file is reported (file, line,
    /// column, caret), in file order, and any problem means no ruleset at all.
    /// `readFile` reads the files of `set NAME file PATH` (PATH as written); nil: such sets are
    /// an error.
    public static func parse(_ text: String, file: String, options: CompileOptions = .init(),
                             readFile: ((String) -> Result<String, SetFileError>)? = nil) throws(RulesetError) -> Ruleset {
        var (source, problems) = RulesFile.read(text, file: file)
        for setFile in source.setFiles {
            source.failedSets.insert(setFile.name)  // until its entries are read and found good
            guard let readFile else { problems.append(setFile.problem("sets read from files need a rules file on disk")); continue }
            switch readFile(setFile.path) {
            case let .success(contents):
                let (entries, places) = SetEntryPlaces.reading(file: setFileName(setFile.path, besides: file), text: contents)
                if let message = RulesFile.problem(withSet: setFile.name, entries) {
                    problems.append(setFile.problem("\(setFile.path): \(message)"))
                    continue
                }
                let forbidden = RulesFile.forbiddenEntries(entries, of: setFile.name, places: places)
                guard forbidden.isEmpty else { problems += forbidden; continue }
                source.sets[setFile.name] = entries
                source.setEntryPlaces[setFile.name] = places
                source.failedSets.remove(setFile.name)
            case let .failure(error):
                problems.append(setFile.problem("\(setFile.path): \(error.reason)"))
            }
        }
        // A generator that failed and printed nothing must not replace a firewall with "pass all".
        if source.rules.isEmpty && source.policyLine == nil && problems.isEmpty {
            throw RulesetError([RulesetDiagnostic(file: file, message: "no rules and no policy (the input is empty, or only comments "
                                                  + "and sets): nothing to apply; to pass every packet on purpose, write 'policy pass'")])
        }
        let (ruleset, compileProblems) = compile(source, options: options)
        let all = problems + compileProblems
        guard all.isEmpty else {
            // The rules file's problems first, then those in set files, each in file order.
            throw RulesetError(all.sorted { ($0.file != file ? 1 : 0, $0.file, $0.line, $0.column) < ($1.file != file ? 1 : 0, $1.file, $1.line, $1.column) })
        }
        return ruleset
    }

    /// Compiles every rule of a file. A rule that can never match is an error, as in libpcap
    /// ("expression rejects all packets"): it is almost always a mistake in the rule.
    public init(compiling source: RulesFile, options: CompileOptions = .init()) throws(RulesetError) {
        let (ruleset, problems) = Ruleset.compile(source, options: options)
        if !problems.isEmpty { throw RulesetError(problems) }
        self = ruleset
    }

    /// Compiles an expression with its sets written out as `or`s; errors point into
    /// `expression` (inside a set, at its `QUALIFIERS @NAME`).
    static func compileWrittenOut(_ expression: String, sets: [String: [String]], options: CompileOptions) throws(FilterError) -> FilterProgram {
        guard expression.utf8.contains(UInt8(ascii: "@")) else { return try FilterCompiler.compile(expression, options: options) }
        if let (name, range) = SetExpansion.oversizedSet(in: expression, sets: sets) {
            if let entry = SetExpansion.entryThatIsNoLookup(in: expression, set: name, sets: sets) {
                throw FilterError("'\(entry)' in the set '\(name)' is not an address or prefix (or port) this rule can look up in a table, "
                                  + "and the set's \(sets[name]!.count) entries are too many to write out as an 'or' "
                                  + "(at most \(RulesFile.maximumWrittenOutSetSize))", at: range)
            }
            throw FilterError("the set '\(name)' has \(sets[name]!.count) entries, too many to write out as an 'or' "
                              + "(at most \(RulesFile.maximumWrittenOutSetSize)), as classic BPF and rules that are not lookups need: "
                              + "lookups take sets of any size ('[src|dst] net @\(name)', '[src|dst] host @\(name)', "
                              + "either of them 'and (tcp|udp) (src|dst) port N')",
                              at: range)
        }
        let expanded = try SetExpansion.expanding(expression, sets: sets).get()
        do {
            return try FilterCompiler.compile(expanded.text, options: options)
        } catch {
            throw FilterError(error.message, at: SetExpansion.originalRange(of: error.range, expanded.replacements))
        }
    }

    /// libpcap's own checks of a rule with sets (`expression rejects all packets`...): its
    /// written-out `or` compiled, or for a set too large to write out, one entry of each family
    /// the set holds in its place (the rule then runs only in a packet classifier).
    static func checkWrittenOut(_ expression: String, sets: [String: [String]], options: CompileOptions) throws(FilterError) {
        guard SetExpansion.oversizedSet(in: expression, sets: sets) != nil else {
            _ = try compileWrittenOut(expression, sets: sets, options: options)
            return
        }
        let standing = sets.mapValues { entries -> [String] in
            var seen = Set<AddressFamily>()
            return entries.filter { entry in RuleDecomposition.classifierSetEntry(entry).map { seen.insert($0.family).inserted } ?? true }
        }
        _ = try compileWrittenOut(expression, sets: standing, options: options)
    }

    /// How messages name the file of `set NAME file PATH`: as the rules file's verbs read it
    /// (a relative PATH beside the rules file).
    static func setFileName(_ path: String, besides rulesFile: String) -> String {
        guard !path.hasPrefix("/"), let slash = rulesFile.lastIndex(of: "/") else { return path }
        return String(rulesFile[...slash]) + path
    }

    private static func compile(_ source: RulesFile, options: CompileOptions) -> (Ruleset, [RulesetDiagnostic]) {
        var rules: [Rule] = []
        var problems: [RulesetDiagnostic] = []
        var failedSets = source.failedSets
        let plain = compilePlainRules(source.rules, options: options)
        for (index, text) in source.rules.enumerated() {
            do throws(FilterError) {
                if text.expression.utf8.contains(UInt8(ascii: "@")) {
                    // A set already reported as wrong: its own problem is the one to fix.
                    if SetExpansion.setNames(in: text.expression).contains(where: failedSets.contains) { continue }
                    // A lookup shape needs no `or` written out, however large its sets.
                    if let matches = SetExpansion.lookupMatches(text.expression, sets: source.sets) {
                        var rule = Rule(text: text, lookupMatches: matches, options: options)
                        rule.sets = source.sets
                        rules.append(rule)
                        continue
                    }
                    // Bad entries are reported where they are written, and the rule says nothing more.
                    // Looked for only when the rule does not compile (at once when a set is too
                    // large to write out: finding why it is no lookup entry by entry is slower).
                    let oversized = SetExpansion.oversizedSet(in: text.expression, sets: source.sets) != nil
                    // Too large to write out, but a packet classifier can take it: it runs there only.
                    if oversized, let conjunctions = ClassifierBuilder.conjunctions(ofSetRule: text.expression, sets: source.sets) {
                        try checkWrittenOut(text.expression, sets: source.sets, options: options)
                        var rule = Rule(text: text, classifiedWith: source.sets, conjunctions: conjunctions, options: options)
                        rule.testsVLANTags = setRuleTestsVLANTags(text.expression, sets: source.sets)
                        rules.append(rule)
                        continue
                    }
                    var entryProblems = oversized ? source.badEntryProblems(of: text, options: options) : (problems: [], sets: [])
                    if entryProblems.problems.isEmpty {
                        do throws(FilterError) {
                            var rule = Rule(text: text, program: try compileWrittenOut(text.expression, sets: source.sets, options: options))
                            // In a classifier, its sets are tables of their own that `xdpfw set` changes.
                            rule.conjunctions = ClassifierBuilder.conjunctions(ofSetRule: text.expression, sets: source.sets)
                            rule.testsVLANTags = setRuleTestsVLANTags(text.expression, sets: source.sets)
                            rules.append(rule)
                            continue
                        } catch {
                            if !oversized { entryProblems = source.badEntryProblems(of: text, options: options) }
                            guard !entryProblems.problems.isEmpty else { throw error }
                        }
                    }
                    problems += entryProblems.problems
                    failedSets.formUnion(entryProblems.sets)
                    continue
                }
                rules.append(try plain[index]!.get())
            } catch {
                let start = text.expressionOffset + error.range.start
                let end = text.expressionOffset + max(error.range.end, error.range.start + 1)
                problems.append(source.lines.diagnostic(file: source.file, in: text.statement, from: start, to: end, error.message))
            }
        }
        var ruleset = Ruleset(file: source.file, policy: source.policy, rules: rules)
        ruleset.sets = source.sets
        // A rule that can run only in a packet classifier and that no classifier takes: why.
        if ruleset.rules.contains(where: \.runsOnlyInClassifier) {
            let reasons = ruleset.classifierCandidates(minimumRun: nil)
            for rule in ruleset.rules where rule.runsOnlyInClassifier {
                guard let reason = reasons[rule.index] else { continue }
                do throws(FilterError) {
                    _ = try rule.writtenOutProgram()
                } catch {
                    let start = rule.text.expressionOffset + error.range.start
                    let end = rule.text.expressionOffset + max(error.range.end, error.range.start + 1)
                    problems.append(source.lines.diagnostic(file: source.file, in: rule.text.statement, from: start, to: end,
                                                            error.message + "; a packet classifier would take the rule but does not here: it "
                                                            + "would \(reason.explanation)"))
                }
            }
        }
        return (ruleset, problems)
    }

    /// Whether a rule with sets tests VLAN tags (what it tests does not hang on the entries:
    /// each set is written out as its first).
    private static func setRuleTestsVLANTags(_ expression: String, sets: [String: [String]]) -> Bool {
        guard case let .success(one) = SetExpansion.expanding(expression, sets: sets.mapValues { Array($0.prefix(1)) }) else { return false }
        return (try? FilterParser.parse(one.text))?.testsVLANTags ?? false
    }

    /// Each rule without a set, parsed, decomposed and compiled on its own, side by side on the
    /// machine's cores (10,000 rules: most of a `check`'s serial time); nil for rules with sets.
    private static func compilePlainRules(_ texts: [RuleText], options: CompileOptions) -> [Result<Rule, FilterError>?] {
        ParallelRun.map(texts) { text -> Result<Rule, FilterError>? in
            guard !text.expression.utf8.contains(UInt8(ascii: "@")) else { return nil }
            return Result { () throws(FilterError) -> Rule in
                let tree = try? FilterParser.parse(text.expression)
                var rule: Rule
                if let tree, let matches = MergeableRule.matches(tree) {
                    rule = Rule(text: text, lookupMatches: matches, options: options)
                } else {
                    rule = Rule(text: text, program: try FilterCompiler.compile(text.expression, options: options))
                }
                if let tree {
                    rule.conjunctions = ClassifierBuilder.conjunctions(of: tree)
                    rule.testsVLANTags = tree.testsVLANTags
                }
                return rule
            }
        }
    }
}
