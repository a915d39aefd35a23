import ClassicBPF
import DifferentialTesting
import FilterCompiler
import Kernel
import XCTest

/// The layout of `ClassicCodeGenerator` against libpcap's: lift libpcap's program into blocks,
/// lay the blocks out again, and expect the very same instructions, long-branch `ja`s and
/// protochain's backward `ja` included.
final class LayoutTests: XCTestCase {
    func assertRelayoutMatches(_ expression: String, optimize: Bool, file: StaticString = #filePath, line: UInt = #line) {
        guard case let .success(program) = Libpcap.compile(expression, optimize: optimize) else {
            return XCTFail("libpcap rejects \(expression)", file: file, line: line)
        }
        guard let lifted = ClassicLifter.lift(program) else {
            return XCTFail("cannot lift \(expression)", file: file, line: line)
        }
        let ours = ClassicCodeGenerator.generate(lifted)
        if ours != program {
            XCTFail("""
                layout differs for '\(expression)' optimize=\(optimize)
                ours:
                \(ClassicPrinter.format(ours, as: .assembly))
                libpcap:
                \(ClassicPrinter.format(program, as: .assembly))
                """, file: file, line: line)
        }
    }

    func testCorpusProgramsLayOutAsLibpcapDoes() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        for expression in Corpus.acceptedExpressions {
            assertRelayoutMatches(expression.text, optimize: false)
            assertRelayoutMatches(expression.text, optimize: true)
        }
    }

    func testLongBranchesGetTheirJumpsWhereLibpcapPutsThem() {
        for count in [20, 40, 90] {
            let hosts = (1...count).map { "host 10.0.\($0 / 200).\($0 % 200 + 1)" }
            assertRelayoutMatches(hosts.joined(separator: " or "), optimize: false)
            assertRelayoutMatches(hosts.joined(separator: " or "), optimize: true)
            assertRelayoutMatches(hosts.joined(separator: " and not "), optimize: false)
            let ports = (1...count).map { "(tcp dst port \($0) and ip6)" }
            assertRelayoutMatches(ports.joined(separator: " or "), optimize: false)
            assertRelayoutMatches("(" + ports.joined(separator: " or ") + ") or (udp and not icmp6)", optimize: true)
        }
    }

    func testProtochainLoopJumpsBackward() {
        for expression in ["ip protochain 6", "ip6 protochain 17", "protochain 58 or tcp port 22"] {
            assertRelayoutMatches(expression, optimize: false)
            assertRelayoutMatches(expression, optimize: true)
        }
    }

    func testMalformedGraphsDoNotCrash() {
        let program = FilterProgram(blocks: [
            Block(statements: [.loadLength], terminator: .branch(.equal, .constant(1), ifTrue: 7, ifFalse: 0)),
            Block(terminator: .jump(-3)),
        ], entry: 0)
        _ = ClassicCodeGenerator.generate(program)
        _ = ClassicCodeGenerator.generate(FilterProgram(blocks: [], entry: 0))
    }
}
