import ClassicBPF
import DifferentialTesting
import FilterCompiler
@testable import FilterLanguage
import Foundation
import Kernel
import XCTest

extension KernelDifferentialTests {
    /// Issue 14's mutants in the kernel: a sample of those libpcap accepts, through our whole
    /// pipeline, at XDP and TC (BPF_PROG_TEST_RUN), must give libpcap's verdicts. FUZZ_SEED
    /// (a number or `random`) draws another sample; the seed is printed.
    func testMutantsGiveLibpcapsVerdictInTheKernel() throws {
        let seed = ExpressionMutator.seed(from: ProcessInfo.processInfo.environment, fixed: 0x14_ebbf)
        let mutator = ExpressionMutator(words: Array(Vocabulary.keywords.keys) + Array(Vocabulary.namedConstants.keys))
        let accepted = mutator.mutants(of: Corpus.acceptedExpressions.map(\.text) + Self.ownExpressions, count: 8000, seed: seed)
            .filter { !mutator.mayAskNameServer($0) }
            .filter { if case .success = Libpcap.compile($0, optimize: true) { true } else { false } }
        let sample = Array(accepted.prefix(200))
        print("kernel mutants: seed \(seed), \(sample.count) mutants libpcap accepts (FUZZ_SEED=\(seed) replays them)")
        XCTAssertGreaterThan(sample.count, 100, "too few mutants compile to test anything")
        try compareWithLibpcap(frontEnd: "our compiler, mutants", expressions: sample) { expression, _ in Self.ourProgram(expression) }
    }
}
