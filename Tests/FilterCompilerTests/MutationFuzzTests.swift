import ClassicBPF
import DifferentialTesting
import FilterCompiler
@testable import FilterLanguage
import Foundation
import Kernel
import XCTest

/// Mutated expressions (issue 14) compiled by us and by libpcap: accept/reject must agree, with
/// the optimizer (`xdpfw compile -d` against `tcpdump -d`, "expression rejects all packets"
/// included) and without it (`tcpdump -O -d`); both `-d` listings are compared as text; where
/// the instructions differ, libpcap's `bpf_filter` runs ours and theirs on a packet sample.
/// FUZZ_COUNT (default 20,000) and FUZZ_SEED (a number or `random`) widen a run;
/// `scripts/fuzz-compile N` runs one in a release build. The eBPF side of the same mutants:
/// EBPFTests' `testMutantsGiveLibpcapsVerdictInTheKernel`.
final class MutationFuzzTests: XCTestCase {
    static let defaultSeed: UInt64 = 0x14_f01d
    static let defaultCount = 20_000

    /// Disagreements the fuzz found outside the optimizer, left for their own fix and still
    /// printed (none now: `fddi|tr|wlan|ppp|slip broadcast|multicast`, which libpcap reads as
    /// `link`, are fixed).
    static let knownDefects: [String] = []

    static var mutator: ExpressionMutator {
        ExpressionMutator(words: Array(Vocabulary.keywords.keys) + Array(Vocabulary.namedConstants.keys))
    }

    /// What the mutants start from: the corpus (accepted and refused), Expressions.txt and the
    /// optimizer tests' own lists.
    static func startingExpressions() -> [String] {
        let listed = (try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Expressions.txt"), encoding: .utf8)) ?? ""
        let own = listed.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
        let all = Corpus.acceptedExpressions.map(\.text) + Corpus.rejectedExpressions.map(\.text) + own
            + OptimizerLibpcapTests.moreExpressions + ConstantTestTests.shapes.flatMap(\.expressions)
        return Array(Set(all.filter { !$0.isEmpty })).sorted()
    }

    func testMutantsCompileAsLibpcap() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let environment = ProcessInfo.processInfo.environment
        let seed = ExpressionMutator.seed(from: environment, fixed: Self.defaultSeed)
        let count = environment["FUZZ_COUNT"].flatMap { Int($0) } ?? Self.defaultCount
        print("mutation fuzz: seed \(seed), \(count) mutants (FUZZ_SEED=\(seed) FUZZ_COUNT=\(count) replays it)")
        let mutator = Self.mutator
        let mutants = mutator.mutants(of: Self.startingExpressions(), count: count, seed: seed)
        var skipped = 0
        var tally = MutantTally(packets: Self.packetSample())
        for (index, mutant) in mutants.enumerated() {
            if mutator.mayAskNameServer(mutant) { skipped += 1; continue }
            tally.check(mutant)
            if (index + 1) % 100_000 == 0 { print("mutation fuzz: \(index + 1) mutants checked") }
        }
        print("mutation fuzz: \(skipped) mutants left out (a word libpcap might ask the name server about)")
        tally.report()
        let unknown = tally.acceptRejectDisagreements.filter { line in !Self.knownDefects.contains { line.hasPrefix("'\($0)'") } }
        XCTAssertEqual(unknown, [], "accept/reject must agree with libpcap")
        XCTAssertEqual(tally.meaningDisagreements, [], "verdicts must be libpcap's")
        XCTAssertGreaterThan(tally.bothAccepted, count / 50, "too few mutants compile to test anything")
        // Measured 2026-12-05 on this seed: 785 of 786 listings identical (99.87%; a `X & 0 != c
        // and X & m ...` shape, where libpcap's program reads [x + 27] without loading X);
        // 1,000,000 mutants gave 99.921% (the issue's target is 99.9%). About 800 listings a run:
        // the floor lets one odd listing through, not two.
        XCTAssertGreaterThanOrEqual(tally.percent(tally.optimizedIdentical), 99.75, "optimized -d text")
        XCTAssertGreaterThanOrEqual(Double(tally.plainIdentical) * 100 / Double(max(tally.plainCompared, 1)), 99.9,
                                    "unoptimized -d text")
    }

    /// Every 25th corpus packet, and every 100th cut short at header boundaries.
    static func packetSample() -> [([UInt8], UInt32)] {
        let captured = Corpus.captures.packets.map(\.packet)
        var result: [([UInt8], UInt32)] = []
        for (index, packet) in captured.enumerated() {
            if index % 25 == 0 { result.append((packet.bytes, packet.wireLength)) }
            guard index % 100 == 0 else { continue }
            for cut in [0, 14, 20, 34, 40, 54, 60] where cut < packet.bytes.count {
                result.append((Array(packet.bytes.prefix(cut)), UInt32(cut)))
            }
        }
        return result
    }
}

/// What the mutants showed so far.
struct MutantTally {
    let packets: [([UInt8], UInt32)]
    var total = 0
    var bothAccepted = 0
    var optimizedIdentical = 0
    var plainIdentical = 0
    var plainCompared = 0
    var acceptRejectDisagreements: [String] = []
    var meaningDisagreements: [String] = []
    var textDifferences: [String] = []
    /// How many differing listings to keep and print (FUZZ_SHOW, default 30).
    var shown = ProcessInfo.processInfo.environment["FUZZ_SHOW"].flatMap { Int($0) } ?? 30
    /// Packets on which libpcap's optimized program disagrees with its unoptimized one.
    var optimizerDepartures: [String] = []

    init(packets: [([UInt8], UInt32)]) { self.packets = packets }

    func percent(_ part: Int) -> Double { bothAccepted == 0 ? 100 : Double(part) * 100 / Double(bothAccepted) }

    mutating func check(_ mutant: String) {
        total += 1
        let theirs = Libpcap.compile(mutant, optimize: true)
        let ours = Result { () throws(FilterError) in ClassicCodeGenerator.generate(try FilterCompiler.compile(mutant)) }
        let theirPlain = Libpcap.compile(mutant, optimize: false)
        let ourPlain = Result { () throws(FilterError) in
            ClassicCodeGenerator.generate(try FilterCodeGenerator.generate(try FilterParser.parse(mutant), options: CompileOptions()))
        }
        if case let .success(expected) = theirPlain, case let .success(actual) = ourPlain {
            plainCompared += 1
            if expected == actual { plainIdentical += 1 } else { compareMeaning(mutant, [expected], actual, "unoptimized") }
        }
        switch (theirs, ours, theirPlain, ourPlain) {
        case let (.success(expected), .success(actual), _, _):
            bothAccepted += 1
            if expected == actual {
                optimizedIdentical += 1
            } else {
                // libpcap's optimizer drops dead loads (a short packet may pass) and now and
                // then more: a verdict must be that of libpcap's program with or without it.
                let plain = (try? theirPlain.get()).map { [$0] } ?? []
                compareMeaning(mutant, [expected] + plain, actual, "optimized")
                if textDifferences.count < shown { textDifferences.append(mutant) }
            }
        case (.failure, .failure, .failure, .failure), (.failure, .failure, .success, .success):
            break
        default:
            acceptRejectDisagreements.append("""
                '\(mutant)': libpcap \(Self.describe(theirs)) (unoptimized: \(Self.describe(theirPlain))), \
                we \(Self.describe(ours)) (unoptimized: \(Self.describe(ourPlain)))
                """)
        }
    }

    /// libpcap's `bpf_filter` runs ours and each of `expected` on every sample packet; ours must
    /// give the verdict of one of them.
    mutating func compareMeaning(_ mutant: String, _ expected: [[ClassicInstruction]], _ actual: [ClassicInstruction], _ stage: String) {
        let theirFilters = expected.map { Libpcap.PreparedFilter($0) }, ourFilter = Libpcap.PreparedFilter(actual)
        var departed = false
        for (packet, wireLength) in packets {
            let wanted = theirFilters.map { $0.run(packet: packet, wireLength: wireLength) }
            let got = ourFilter.run(packet: packet, wireLength: wireLength)
            if !wanted.contains(got) {
                meaningDisagreements.append("'\(mutant)' (\(stage)): libpcap's programs return \(wanted), ours \(got) on \(packet.count) bytes")
                return
            }
            if wanted.count > 1, wanted[0] != wanted[1], !departed {
                departed = true
                optimizerDepartures.append("'\(mutant)': \(wanted[1]) unoptimized, \(wanted[0]) optimized, ours \(got) on \(packet.count) bytes")
            }
        }
    }

    static func describe<E: Error>(_ result: Result<[ClassicInstruction], E>) -> String {
        switch result {
        case .success: return "accepts"
        case let .failure(error): return "refuses (\(error))"
        }
    }

    func report() {
        print("mutation fuzz: \(total) mutants, \(bothAccepted) accepted by both, \(acceptRejectDisagreements.count) accept/reject disagreements, \(meaningDisagreements.count) meaning disagreements")
        print(String(format: "mutation fuzz: optimized -d text identical on %.3f%% (%d/%d), unoptimized on %d/%d",
                     percent(optimizedIdentical), optimizedIdentical, bothAccepted, plainIdentical, plainCompared))
        for line in acceptRejectDisagreements.prefix(shown) + meaningDisagreements.prefix(shown) { print("  " + line) }
        for mutant in textDifferences { print("  different -d text: '\(mutant)'") }
        for line in optimizerDepartures.prefix(30) { print("  libpcap's optimizer changes the verdict: " + line) }
    }
}
