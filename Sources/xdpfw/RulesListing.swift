import ClassicBPF
import FilterCompiler
import Firewall
import Ruleset

/// `xdpfw compile -d -f rules.conf [EXPRESSION]`: classic BPF with the rules file's sets
/// written out as `or`s, as tcpdump would print the written-out expression.
enum RulesListing {
    /// With an expression: its program, the file's sets usable in it. Without: every rule's
    /// program in order, each after `# rule N (line L): VERDICT EXPRESSION`.
    static func classic(rulesFile: String, expression: String?, options: CompileOptions, format: DumpFormat) throws -> String {
        let ruleset = try RulesInput.ruleset(at: rulesFile, options: options)
        if let expression {
            do {
                let program = try ruleset.compile(expression: expression, options: options)
                return ClassicPrinter.format(ClassicCodeGenerator.generate(program), as: format)
            } catch {
                throw CommandFailure(error.rendered(source: expression))
            }
        }
        var text = ""
        for rule in ruleset.rules {
            let program: FilterProgram
            do { program = try rule.writtenOutProgram() } catch {
                throw CommandFailure("\(ruleset.file):\(rule.line): rule \(rule.number): " + error.rendered(source: rule.expression))
            }
            text += "# rule \(rule.number) (line \(rule.line)): \(rule.verdict.rawValue) \(rule.expression)\n"
            text += ClassicPrinter.format(ClassicCodeGenerator.generate(program), as: format)
        }
        return text
    }
}
