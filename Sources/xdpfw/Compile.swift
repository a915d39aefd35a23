import ArgumentParser
import ClassicBPF
import EBPF
import FilterCompiler
import FilterLanguage
import Firewall
import Ruleset

/// `xdpfw compile`: the program for one expression, as text. With -d/-dd/-ddd it is classic BPF
/// printed exactly as tcpdump prints it; with --ebpf it is the eBPF xdpfw attaches.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the program for a filter expression (classic BPF as tcpdump -d prints it, or eBPF).",
        usage: """
            xdpfw compile [-O] (-d | -dd | -ddd) [-s <snaplen>] [<expression> ...]
            xdpfw compile [-O] (-d | -dd | -ddd) [-s <snaplen>] -f <rules.conf> [<expression> ...]
            xdpfw compile --ebpf [--hook xdp|tc-ingress|tc-egress] [-O] (<expression> ... | -f <rules.conf>)
            """,
        discussion: """
            The expression is pcap-filter syntax exactly as tcpdump takes it; its words are joined \
            with spaces, so quoting is optional. With -d, -dd or -ddd the output is byte for byte what \
            tcpdump prints with the same options, so the two can be compared:

              diff <(xdpfw compile -d tcp port 80) <(tcpdump -d tcp port 80)

            With -f and -d (-dd, -ddd), the rules file's sets may be used in the expression: \
            `xdpfw compile -d -f rules.conf 'src net @blocklist'` prints what tcpdump -d prints for \
            the set written out as an `or`. Without an expression it prints each rule's program in \
            order, each after a line `# rule N (line L): VERDICT EXPRESSION`.

            With --ebpf it prints the eBPF instructions xdpfw loads for the expression, or for a whole \
            rules file with -f.

            Examples:
              xdpfw compile -d tcp dst port 22
              xdpfw compile -O -ddd 'udp and (port 53 or port 123)'
              xdpfw compile --ebpf --hook tc icmp
              xdpfw compile --ebpf -f rules.conf
              xdpfw compile -d -f rules.conf 'src net @blocklist'
            """)

    @Flag(name: .customShort("O"), help: "Do not run the optimizer (as tcpdump -O).")
    var unoptimized = false

    @Flag(name: .customShort("d"),
          help: "Print classic BPF: -d as assembly, -dd as a C array, -ddd as decimal numbers (as tcpdump).")
    var dumpLevel: Int

    // Unconditional, as tcpdump's getopt: `-s -5` is a bad snaplen, not a missing one.
    @Option(name: .customShort("s"), parsing: .unconditional,
            help: ArgumentHelp("The snapshot length accepted packets return (0 means 262144, as tcpdump).",
                               valueName: "snaplen"))
    var snapLength: String?

    @Flag(name: .customLong("ebpf"), help: "Print the eBPF program instead of classic BPF.")
    var ebpf = false

    @Option(help: ArgumentHelp("The hook the eBPF program is for (with --ebpf).", valueName: "hook"))
    var hook: Hook.Kind?

    @Option(name: .customShort("f"),
            help: ArgumentHelp("A rules file: with --ebpf, its whole program; with -d, its sets for the expression, or every rule's program.",
                               valueName: "rules.conf"))
    var rulesFile: String?

    @Argument(help: ArgumentHelp("The filter expression (empty matches every packet).", valueName: "expression"))
    var expression: [String] = []

    func validate() throws {
        if ebpf && dumpLevel > 0 {
            throw ValidationError("-d and --ebpf print different programs: give one of them")
        }
        if !ebpf && dumpLevel == 0 {
            throw ValidationError("say what to print: -d (assembly), -dd (C array), -ddd (decimal) or --ebpf")
        }
        if !ebpf && hook != nil { throw ValidationError("--hook goes with --ebpf") }
        if ebpf && rulesFile != nil && !expression.isEmpty {
            throw ValidationError("give either an expression or -f rules.conf, not both")
        }
        _ = try options()
    }

    /// The compile options the flags ask for; a bad snapshot length is a usage error worded as tcpdump's.
    func options() throws -> CompileOptions {
        var options = CompileOptions.commandLine
        // tcpdump compiles with netmask 0 when it reads no interface, so `ip broadcast` works.
        options.netmask = 0
        options.optimize = !unoptimized
        if let text = snapLength {
            guard let value = Int(text), value >= 0, value <= 262144 else {
                throw ValidationError("invalid snaplen \(text) (must be >= 0 and <= 262144)")
            }
            options.snapLength = value == 0 ? 262144 : UInt32(value)
        }
        return options
    }

    func run() throws {
        if ebpf {
            try printEBPF()
        } else {
            try printClassic()
        }
    }

    private func printClassic() throws {
        let format: DumpFormat = switch dumpLevel {
        case 1: .assembly
        case 2: .cArray
        default: .decimal
        }
        if let rulesFile {
            Output.standardOutput(try RulesListing.classic(rulesFile: rulesFile, expression: expression.isEmpty ? nil : expression.joined(separator: " "),
                                                           options: options(), format: format))
            return
        }
        let program = try Compile.compile(expression.joined(separator: " "), options: options())
        Output.standardOutput(ClassicPrinter.format(ClassicCodeGenerator.generate(program), as: format))
    }

    /// The eBPF listing: for an expression, the filter alone (pass on match, drop otherwise); for
    /// a rules file, the whole ruleset program with its counters, as `apply` loads it.
    private func printEBPF() throws {
        let hook = self.hook ?? .xdp
        let options = try options()
        if let rulesFile {
            Output.standardOutput(try EBPFListing.ruleset(try RulesInput.ruleset(at: rulesFile, options: options), hook: hook))
        } else {
            Output.standardOutput(try EBPFListing.filter(try Compile.compile(expression.joined(separator: " "), options: options), hook: hook))
        }
    }

    /// Compiles an expression; an error names the place with a caret under the expression.
    static func compile(_ text: String, options: CompileOptions) throws(CommandFailure) -> FilterProgram {
        do {
            return try FilterCompiler.compile(text, options: options)
        } catch {
            throw CommandFailure(error.rendered(source: text))
        }
    }
}
