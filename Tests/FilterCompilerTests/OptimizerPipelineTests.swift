import ClassicBPF
import DifferentialTesting
import FilterCompiler
import FilterLanguage
import Foundation
import Kernel
import XCTest

/// The whole pipeline (parser, code generator, optimizer, classic layout) against
/// `pcap_compile(optimize=1)`: same verdicts from libpcap's `bpf_filter`, never longer, ideally
/// the same `-d` text. Expressions whose unoptimized program already differs from libpcap's
/// are counted apart: there the optimizer starts from another graph.
final class OptimizerPipelineTests: XCTestCase {
    func testCompiledExpressionsAgainstLibpcap() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let listed = (try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Expressions.txt"), encoding: .utf8)) ?? ""
        let expressions = Corpus.acceptedExpressions.map(\.text) + OptimizerLibpcapTests.moreExpressions
            + listed.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
        let packets = OptimizerLibpcapTests.packets()
        var compared = 0, sameStart = 0, longer: [String] = [], different: [String] = [], unsupported = 0
        var identicalWithSameStart = 0, identical = 0
        var libpcapTime: TimeInterval = 0, ourTime: TimeInterval = 0, optimizerTime: TimeInterval = 0
        for expression in Set(expressions).sorted() {
            let libpcapStarted = Date()
            let compiled = Libpcap.compile(expression, optimize: true)
            libpcapTime += Date().timeIntervalSince(libpcapStarted)
            let started = Date()
            guard case let .success(theirs) = compiled,
                  case let .success(theirPlain) = Libpcap.compile(expression, optimize: false) else { continue }
            guard let tree = try? FilterParser.parse(expression),
                  let plain = try? FilterCodeGenerator.generate(tree, options: CompileOptions()) else {
                unsupported += 1
                continue
            }
            let optimizerStarted = Date()
            guard let optimized = try? Optimizer.optimize(plain) else {
                XCTFail("'\(expression)': our optimizer refuses what libpcap's compiles")
                continue
            }
            optimizerTime += Date().timeIntervalSince(optimizerStarted)
            let ours = ClassicCodeGenerator.generate(optimized)
            ourTime += Date().timeIntervalSince(started)
            compared += 1
            let startsAlike = ClassicCodeGenerator.generate(plain) == theirPlain
            if startsAlike { sameStart += 1 }
            let ourText = ClassicPrinter.format(ours, as: .assembly), theirText = ClassicPrinter.format(theirs, as: .assembly)
            if ourText == theirText {
                identical += 1
                if startsAlike { identicalWithSameStart += 1 }
            } else {
                different.append("'\(expression)' \(ours.count) vs \(theirs.count)\(startsAlike ? "" : " (unoptimized differs)")")
            }
            if ours.count > theirs.count { longer.append("'\(expression)' \(ours.count) > \(theirs.count)") }
            for (packet, wireLength) in packets where ours != theirs {
                let expected = Libpcap.filter(theirs, packet: packet, wireLength: wireLength)
                let actual = Libpcap.filter(ours, packet: packet, wireLength: wireLength)
                if expected != actual {
                    XCTFail("'\(expression)': \(actual) where libpcap says \(expected) on \(packet.count) bytes (wire \(wireLength))\nours:\n\(ourText)libpcap:\n\(theirText)")
                    break
                }
            }
        }
        let percent = { (part: Int, whole: Int) in 100 * Double(part) / Double(max(whole, 1)) }
        print("pipeline: \(compared) expressions compiled (\(unsupported) not supported yet), \(sameStart) with libpcap's unoptimized program")
        print(String(format: "pipeline: %.1f%% no longer than libpcap, %.1f%% identical -d text (%.1f%% of those starting alike)",
                     percent(compared - longer.count, compared), percent(identical, compared), percent(identicalWithSameStart, sameStart)))
        print("pipeline: libpcap compiles all in \(Int(libpcapTime * 1000)) ms; we take \(Int(ourTime * 1000)) ms, \(Int(optimizerTime * 1000)) ms of it optimizing (this build's optimization level)")
        for line in longer { print("  longer: \(line)") }
        for line in different { print("  different: \(line)") }
        XCTAssertGreaterThanOrEqual(percent(compared - longer.count, compared), 95)
    }
}
