import ClassicBPF
import DifferentialTesting
import FilterCompiler
import FilterLanguage
import Foundation
import Kernel
import XCTest
import Ruleset

/// The whole classic pipeline against libpcap: for every corpus expression, our parser, code
/// generator, optimizer and layout against `pcap_compile(optimize=1)`. Same verdicts on every
/// packet (our interpreter and libpcap's bpf_filter running our instructions), never longer
/// than libpcap on at least 90% of the expressions, and how many `-d` listings are identical.
final class CompilerDifferentialTests: XCTestCase {
    struct Outcome: Sendable {
        var expression: Corpus.Expression
        var ours: [ClassicInstruction]?
        var theirs: [ClassicInstruction]?
        var error: String?
        var verdicts: String?
    }

    static func ours(_ text: String, optimize: Bool) -> Result<[ClassicInstruction], FilterError> {
        Result { () throws(FilterError) -> [ClassicInstruction] in
            var options = CompileOptions()
            options.optimize = optimize
            return ClassicCodeGenerator.generate(try FilterCompiler.compile(text, options: options))
        }
    }

    /// The corpus, the code generator's own list of expressions (Tests/FilterCompilerTests/
    /// Expressions.txt) and long or nested expressions that need far jumps.
    static let expressions: [Corpus.Expression] = {
        let listing = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("FilterCompilerTests/Expressions.txt")
        let listed = ((try? String(contentsOf: listing, encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { Corpus.Expression(name: "Expressions.txt", text: String($0)) }
        let hosts = (1...60).map { "host 10.1.\($0 / 100).\($0 % 100)" }
        let ports = (1...40).map { "port \($0 * 7)" }
        let anyHost: String = hosts.joined(separator: " or ")
        let anyPort: String = ports.joined(separator: " or ")
        let someHosts: String = hosts.prefix(30).joined(separator: " or ")
        let fewerHosts: String = hosts.prefix(25).joined(separator: " or ")
        let somePorts: String = ports.prefix(20).joined(separator: " or ")
        var texts: [String] = [anyHost]
        texts.append("(\(someHosts)) and not (\(anyPort))")
        texts.append("vlan and (\(anyPort))")
        texts.append("(tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and (\(fewerHosts))) or icmp6")
        texts.append("ip6 protochain 6 or ip protochain 17 or (\(somePorts))")
        let long = texts.map { Corpus.Expression(name: "long", text: $0) }
        return Corpus.acceptedExpressions + listed + long
    }()

    func testOptimizedProgramsAgreeWithLibpcap() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let packets = PacketCatalog.differentialSet
        let outcomes = ParallelRun.map(Self.expressions) { expression -> Outcome in
            var outcome = Outcome(expression: expression)
            guard case let .success(theirs) = Libpcap.compile(expression.text, optimize: true) else { return outcome }
            outcome.theirs = theirs
            switch Self.ours(expression.text, optimize: true) {
            case let .failure(error): outcome.error = error.rendered(source: expression.text)
            case let .success(ours):
                outcome.ours = ours
                if ours != theirs {
                    let comparison = VerdictComparison.againstLibpcap(reference: theirs, ours: ours, on: packets)
                    if !comparison.agrees {
                        outcome.verdicts = comparison.report("'\(expression.text)'") + "\nours:\n"
                            + ClassicPrinter.format(ours, as: .assembly) + "libpcap:\n" + ClassicPrinter.format(theirs, as: .assembly)
                    }
                }
            }
            return outcome
        }
        let compared = outcomes.filter { $0.theirs != nil }
        for outcome in compared {
            if let error = outcome.error { XCTFail("we reject what libpcap accepts: \(error)") }
            if let verdicts = outcome.verdicts { XCTFail(verdicts) }
        }
        let built = compared.compactMap { outcome in outcome.ours.map { (outcome.expression.text, $0, outcome.theirs!) } }
        let longer = built.filter { $0.1.count > $0.2.count }
        let identical = built.filter { ClassicPrinter.format($0.1, as: .assembly) == ClassicPrinter.format($0.2, as: .assembly) }
        let notLonger = 100 * Double(built.count - longer.count) / Double(max(built.count, 1))
        print("classic differential: \(built.count) expressions on \(packets.count) packets;"
              + String(format: " %.1f%% no longer than libpcap; %d (%.1f%%) identical -d text", notLonger,
                       identical.count, 100 * Double(identical.count) / Double(max(built.count, 1))))
        func short(_ text: String) -> String { text.count > 100 ? text.prefix(100) + "…" : text }
        for (text, ours, theirs) in longer { print("  longer than libpcap: \(ours.count) > \(theirs.count) '\(short(text))'") }
        for (text, ours, theirs) in built where ours.count <= theirs.count && !identical.contains(where: { $0.0 == text }) {
            print("  not identical: \(ours.count) vs \(theirs.count) '\(short(text))'")
        }
        XCTAssertGreaterThan(built.count, 300)
        XCTAssertGreaterThanOrEqual(notLonger, 90)
        // Where the -d text is the same, -dd and -ddd must be too: every field of every
        // instruction, including the k that libpcap leaves in a `tax` it made from `ldx M[k]`.
        for (text, ours, theirs) in identical where ours != theirs {
            XCTFail("same -d text but different instructions (-dd) for '\(short(text))'")
        }
    }

    /// Unoptimized (`tcpdump -O -d`) listings: the code generator's shape, laid out by us.
    func testUnoptimizedListingsMatchLibpcap() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        var compared = 0
        var identical = 0
        var differing: [String] = []
        for expression in Self.expressions {
            guard case let .success(theirs) = Libpcap.compile(expression.text, optimize: false),
                  case let .success(ours) = Self.ours(expression.text, optimize: false) else { continue }
            compared += 1
            if ClassicPrinter.format(ours, as: .assembly) == ClassicPrinter.format(theirs, as: .assembly) {
                identical += 1
            } else {
                differing.append(expression.text)
            }
        }
        print("classic -O -d: \(identical) of \(compared) unoptimized listings identical to libpcap's")
        for text in differing.prefix(20) { print("  differs: '\(text)'") }
        XCTAssertGreaterThan(compared, 300)
    }
}
