import XCTest
import DifferentialTesting
import Ruleset

/// Rules decomposed into field constraints (issue 10's first step) held to libpcap: on every
/// packet, a decomposed rule's own matcher gives libpcap's verdict; and `check`'s warnings
/// (issue 13) never name a rule that libpcap's first match picks for some packet.
final class FieldConstraintsTests: XCTestCase {
    /// The catalog's frames with their truncations, the corpus captures, and frames of the
    /// random rules' own addresses and ports.
    static let packets: [[UInt8]] = {
        var rules = DecomposableRules(seed: 99)
        return PacketCatalog.differentialSet.map(\.bytes) + rules.frames(count: 400)
    }()

    func testDecomposedRulesMatchExactlyWhatLibpcapMatches() throws {
        var rules = DecomposableRules(seed: 1)
        var decomposed = 0
        for _ in 0..<300 {
            let expression = rules.expression()
            // Some do not: an `or` whose first half reads further into the frame than its second.
            guard let conjunctions = RuleDecomposition.conjunctions(of: expression) else { continue }
            decomposed += 1
            try assertAgreesWithLibpcap(expression, conjunctions)
        }
        XCTAssertGreaterThan(decomposed, 150)
    }

    /// The corpus's own expressions: those that decompose match as libpcap's code does.
    func testDecomposedCorpusExpressionsMatchExactlyWhatLibpcapMatches() throws {
        let expressions = Corpus.acceptedExpressions
        try XCTSkipIf(expressions.isEmpty, Corpus.missingMessage)
        var decomposed = 0
        for expression in expressions {
            guard let conjunctions = RuleDecomposition.conjunctions(of: expression.text) else { continue }
            decomposed += 1
            try assertAgreesWithLibpcap(expression.text, conjunctions)
        }
        XCTAssertGreaterThan(decomposed, 20, "the corpus has rules of the decomposable shapes")
    }

    func testSetsAreWrittenOutEntryByEntry() {
        let sets = ["web": ["80", "443"], "nets": ["10.0.0.0/8", "2001:db8::/32"]]
        XCTAssertEqual(RuleDecomposition.conjunctions(of: "tcp dst port @web", sets: sets),
                       RuleDecomposition.conjunctions(of: "tcp dst port 80 or tcp dst port 443"))
        XCTAssertEqual(RuleDecomposition.conjunctions(of: "src net @nets and udp", sets: sets),
                       RuleDecomposition.conjunctions(of: "(src net 10.0.0.0/8 or src net 2001:db8::/32) and udp"))
    }

    func testShapesWhoseMeaningIsNotFieldConstraintsDoNotDecompose() {
        for expression in ["not tcp", "vlan and host 1.2.3.4", "tcp[13] & 2 != 0", "len < 100", "host localhost", "port http",
                           "ip proto 6", "net 10.0.0.0 mask 255.0.0.0", "host 10.1", "net 0/0", "ether host 0:1:2:3:4:5",
                           "tcp or not udp", "icmp[0] = 8", "mpls and src host 1.2.3.4", "gateway 1.2.3.4", "ip broadcast"] {
            XCTAssertNil(RuleDecomposition.conjunctions(of: expression), expression)
        }
    }

    private func assertAgreesWithLibpcap(_ expression: String, _ conjunctions: [FieldConjunction],
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        // libpcap's optimizer finds some satisfiable rules "reject all packets"
        // (`src and dst portrange 7-1023 and src and dst net 2001:db8::/127 and ip6 net 2001:db8::/127`):
        // its unoptimized code says what they mean.
        let compiled = [true, false].lazy.compactMap { try? Libpcap.compile(expression, optimize: $0).get() }.first
        guard let program = compiled else {
            // Refused either way: the rule can never match, and so must the decomposition say.
            return XCTAssertEqual(conjunctions, [], "libpcap refuses '\(expression)'", file: file, line: line)
        }
        let filter = Libpcap.PreparedFilter(program)
        for packet in Self.packets {
            let libpcap = filter.run(packet: packet, wireLength: UInt32(packet.count)) != 0
            let ours = conjunctions.contains { $0.matches(packet) }
            guard libpcap == ours else {
                let hex = packet.prefix(64).map { String($0, radix: 16) }.joined(separator: " ")
                return XCTFail("'\(expression)': libpcap \(libpcap ? "matches" : "rejects"), the decomposition "
                               + "\(ours ? "matches" : "rejects") the \(packet.count)-byte frame \(hex)", file: file, line: line)
            }
        }
    }
}
