/// A rules.conf file compiled: the policy and, for each rule, its filter program. First match
/// wins; a packet no rule matches gets the policy.

import FilterLanguage
import FilterCompiler
import EBPF

/// One compiled rule: the rule as written and its filter program.
public struct Rule: Hashable, Sendable {
    /// Where the rule is in the file and what it says.
    public var text: RuleText
    /// The compiled expression: it accepts (returns non-zero) exactly the packets the rule matches.
    public var program: FilterProgram
    /// What the rule tests when it is a shape that runs of rules can share a trie lookup for
    /// (`src net P`, `src net P and tcp dst port Q`...), nil otherwise.
    public var lookupMatch: LookupMatch?

    public init(text: RuleText, program: FilterProgram, lookupMatch: LookupMatch? = nil) {
        self.text = text
        self.program = program
        self.lookupMatch = lookupMatch
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

public struct Ruleset: Hashable, Sendable {
    /// The file name as given, used in messages.
    public var file: String
    /// What happens to a packet no rule matches.
    public var policy: Verdict
    public var rules: [Rule]

    public init(file: String, policy: Verdict, rules: [Rule]) {
        self.file = file; self.policy = policy; self.rules = rules
    }

    /// Reads and compiles rules.conf text. Every problem in the file is reported (file, line,
    /// column, caret), in file order, and any problem means no ruleset at all.
    public static func parse(_ text: String, file: String, options: CompileOptions = .init()) throws(RulesetError) -> Ruleset {
        let (source, problems) = RulesFile.read(text, file: file)
        let (ruleset, compileProblems) = compile(source, options: options)
        let all = problems + compileProblems
        guard all.isEmpty else {
            throw RulesetError(all.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
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

    private static func compile(_ source: RulesFile, options: CompileOptions) -> (Ruleset, [RulesetDiagnostic]) {
        var rules: [Rule] = []
        var problems: [RulesetDiagnostic] = []
        for text in source.rules {
            do {
                let program = try FilterCompiler.compile(text.expression, options: options)
                let match = (try? FilterParser.parse(text.expression)).flatMap(MergeableRule.match)
                rules.append(Rule(text: text, program: program, lookupMatch: match))
            } catch {
                let start = text.expressionOffset + error.range.start
                let end = text.expressionOffset + max(error.range.end, error.range.start + 1)
                problems.append(source.lines.diagnostic(file: source.file, in: text.statement, from: start, to: end, error.message))
            }
        }
        return (Ruleset(file: source.file, policy: source.policy, rules: rules), problems)
    }
}
