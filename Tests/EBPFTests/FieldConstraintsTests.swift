import Foundation
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

    /// SEED and COUNT in the environment run the random tests on other or more rules
    /// (`SEED=11 COUNT=600 swift test --filter FieldConstraintsTests`).
    static func setting<T: FixedWidthInteger>(_ name: String, _ fallback: T) -> T {
        ProcessInfo.processInfo.environment[name].flatMap { T($0) } ?? fallback
    }

    func testDecomposedRulesMatchExactlyWhatLibpcapMatches() throws {
        var rules = DecomposableRules(seed: Self.setting("SEED", 1))
        var decomposed = 0, negated = 0, bytes = 0
        for _ in 0..<Self.setting("COUNT", 300) {
            let expression = rules.expression()
            // Some do not: an `or` whose first half reads further into the frame than its second.
            guard let conjunctions = RuleDecomposition.conjunctions(of: expression) else { continue }
            decomposed += 1
            if expression.contains("not ") { negated += 1 }
            if conjunctions.contains(where: { $0.transportByte != nil }) { bytes += 1 }
            try assertAgreesWithLibpcap(expression, conjunctions)
        }
        XCTAssertGreaterThan(decomposed, 150)
        XCTAssertGreaterThan(negated, 5, "negated addresses beside a family decompose")
        XCTAssertGreaterThan(bytes, 10, "TCP-flag and ICMP-type tests decompose")
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
        for expression in ["not tcp", "vlan and host 1.2.3.4", "tcp[12] & 2 != 0", "len < 100", "host localhost", "port http",
                           "ip[9] = 6", "net 10.0.0.0 mask 255.0.255.0", "host 10.1", "arp net ::/0", "ether host 0:1:2:3:4:5",
                           "tcp or not udp", "icmp[1] = 8", "mpls and src host 1.2.3.4", "gateway 1.2.3.4", "ip broadcast",
                           // The flags' value does not matter (libpcap may drop the load), or another load or the length joins it.
                           "tcp[13] & 0 = 0", "tcp[13] >= 0", "tcp[13] > len", "tcp[13] = tcp[12]", "tcp[13] / tcp[13] = 1",
                           "ip proto 256", "ether proto 0x8100", "src proto 6", "ip proto \\gre",
                           // Byte tests that together pass every value: libpcap's optimizer drops the load.
                           "tcp[13] & 2 != 0 or tcp[13] & 2 = 0", "(tcp[13] = 2 or tcp[13] != 2) and dst port 80",
                           "icmp[icmptype] = icmp-echo or icmp[0] != 8",
                           "(src host 1.2.3.4 and (tcp[13] = 2 or tcp[13] != 2)) or (src host 5.6.7.8 and tcp[13] = 2)",
                           // Addresses that together are every address: the same.
                           "(not src net 10.0.0.0/8 or src net 10.0.0.0/8) and ip", "(not src host 1.2.3.4 or not src host 1.2.3.5) and ip",
                           "tcp dst port 22 and (not src net 10.0.0.0/8 or src net 10.0.0.0/8)",
                           "(not src net 2001:db8::/32 or src net 2001:db8::/32) and ip6",
                           // Ports read as loads: every port, none, or together every port.
                           "tcp[2:2] >= 0", "tcp[2:2] > 65535", "tcp[2:2] != 70000", "tcp[2:2] < 80 or tcp[2:2] >= 80",
                           "tcp[2:2] & 0xff = 80", "tcp[1:2] = 80", "tcp[2:2] = udp[2:2]"] {
            XCTAssertNil(RuleDecomposition.conjunctions(of: expression), expression)
        }
    }

    /// Protocol fields and transport bytes decompose into what the same test written as a
    /// protocol name or a port would: `proto 6` is `tcp`; a test of TCP's flags is TCP on a
    /// first IPv4 fragment.
    func testProtocolFieldsAndTransportBytesDecomposeAsTheirNamedForms() throws {
        let c = { (expression: String) in RuleDecomposition.conjunctions(of: expression) }
        XCTAssertEqual(c("proto 6"), c("tcp"))
        XCTAssertEqual(c("proto \\udp"), c("udp"))
        XCTAssertEqual(c("ip proto 1"), c("icmp"))
        XCTAssertEqual(c("ip6 proto 58"), c("icmp6"))
        XCTAssertEqual(c("ether proto 0x86dd"), c("ip6"))
        XCTAssertEqual(c("ether proto \\arp"), c("arp"))
        XCTAssertEqual(c("net 10.0.0.0 mask 255.0.0.0"), c("net 10.0.0.0/8"))
        XCTAssertEqual(c("src net 0.0.0.0/0"), c("ip or arp or rarp"), "a /0 tests only the family")
        XCTAssertEqual(c("dst net ::/0 and tcp"), c("ip6 and tcp"))
        // `not` of an address: beside a family, the complement's prefixes on that family and
        // the other families whole; alone it would match frames of families no conjunction names.
        XCTAssertNil(c("not src net 10.0.0.0/8"))
        XCTAssertEqual(c("not src net 10.0.0.0/8 and ip"), c("ip and (src net 128.0.0.0/1 or src net 64.0.0.0/2 or src net 32.0.0.0/3 "
                                                             + "or src net 16.0.0.0/4 or src net 0.0.0.0/5 or src net 12.0.0.0/6 "
                                                             + "or src net 8.0.0.0/7 or src net 11.0.0.0/8)"))
        XCTAssertEqual(c("tcp and not src host 10.0.0.1")?.count, 32 + 2, "IPv4: 32 prefixes outside the host; IPv6 TCP (and behind a fragment header) whole")
        XCTAssertNil(c("tcp and not src net 2001:db8::/48"), "an IPv6 prefix longer than a word reads more than its complement's short prefixes")
        XCTAssertNotNil(c("icmp[0] = 8 or icmp6[0] != 8"), "ICMP and ICMPv6 types are bytes of different packets")
        XCTAssertEqual(c("tcp[2:2] = 80"), c("ip and tcp dst port 80"), "tcp[] is IPv4's")
        XCTAssertEqual(c("udp[0:2] != 53"), c("ip and (udp src portrange 0-52 or udp src portrange 54-65535)"))
        XCTAssertNotNil(c("(not src net 10.0.0.0/8 or src net 11.0.0.0/8) and ip"))
        let syn = try XCTUnwrap(c("tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn"))
        XCTAssertEqual(syn.count, 1)
        XCTAssertEqual(syn[0].family, .ipv4)
        XCTAssertEqual(syn[0].ipProtocol, 6)
        XCTAssertTrue(syn[0].firstFragment, "libpcap's tcp[] excludes later fragments")
        XCTAssertEqual((0...255).filter { syn[0].transportByte!.values.contains(UInt8($0)) }.count, 64, "SYN set, ACK clear: 64 of 256 flag bytes")
        // A SYN-only rule is covered by "SYN set", not the other way round.
        XCTAssertTrue(try XCTUnwrap(c("tcp[13] & 2 != 0"))[0].covers(syn[0]))
        XCTAssertFalse(syn[0].covers(try XCTUnwrap(c("tcp[13] & 2 != 0"))[0]))
        XCTAssertNil(syn[0].intersection(try XCTUnwrap(c("tcp[13] & 2 = 0"))[0]), "SYN set and SYN clear exclude each other")
    }

    /// Every warning in random rulesets is true: libpcap's first match never picks a warned rule.
    func testWarnedRulesAreNeverLibpcapsFirstMatch() throws {
        var rules = DecomposableRules(seed: Self.setting("SEED", 5))
        var warned: [RuleWarning.Kind: Int] = [:]
        var differentVerdicts = 0
        for round in 0..<Self.setting("COUNT", 150) {
            var lines: [String] = []
            while lines.count < 6 {
                let expression = rules.random.next(2) == 0 ? rules.primitive() : rules.expression()
                guard (try? Libpcap.compile(expression, optimize: true).get()) != nil else { continue }
                lines.append("\(rules.random.next(2) == 0 ? "drop" : "pass") \(expression)")
            }
            // Now and then the same text again, or blanks apart.
            if rules.random.next(4) == 0 { lines.append(lines[rules.random.next(lines.count)].replacingOccurrences(of: " ", with: "  ")) }
            guard let ruleset = try? Ruleset.parse(lines.joined(separator: "\n"), file: "r\(round).conf") else { continue }
            let warnings = RuleShadowing.warnings(ruleset)
            guard !warnings.isEmpty else { continue }
            let oracle = try LibpcapRuleset(ruleset.rules.map { ($0.expression, $0.verdict) })
            for warning in warnings {
                warned[warning.kind, default: 0] += 1
                if warning.rule.verdict != warning.earlier.verdict { differentVerdicts += 1 }
                let filter = Libpcap.PreparedFilter(oracle.classic[warning.rule.index])
                for packet in Self.packets where filter.run(packet: packet, wireLength: UInt32(packet.count)) != 0 {
                    let first = oracle.slot(for: packet) - 1
                    XCTAssertLessThan(first, warning.rule.index, "\(warning.message(file: ruleset.file)), yet libpcap picks it for "
                                      + packet.prefix(64).map { String($0, radix: 16) }.joined(separator: " ") + "\n" + lines.joined(separator: "\n"))
                    if first >= warning.rule.index { break }
                }
            }
        }
        XCTAssertGreaterThan(warned[.shadowed, default: 0], 20, "random rulesets have shadowed rules")
        XCTAssertGreaterThan(warned[.duplicate, default: 0], 10, "random rulesets have duplicate rules")
        XCTAssertGreaterThan(differentVerdicts, 5)
    }

    /// The index `check` finds hiding rules with names the same earlier rule as comparing
    /// with every earlier rule does, on the generated ACL, firewall and IP-chain rulesets.
    func testIndexedSearchFindsTheFirstHidingRuleAsAScanDoes() throws {
        for family in RulesetFamily.allCases {
            let ruleset = try Ruleset.parse(GeneratedRuleset(family: family, count: 1500, seed: 3).text, file: "f.conf")
            var scanned: [Int: Int] = [:]
            var earlier: [(index: Int, conjunctions: [FieldConjunction])] = []
            var texts: [String: Int] = [:]
            for rule in ruleset.rules {
                // The same text first: a duplicate of the first rule written so.
                if let first = texts[rule.expression] {
                    scanned[rule.index] = first
                    continue
                }
                texts[rule.expression] = rule.index
                let conjunctions = try XCTUnwrap(RuleDecomposition.conjunctions(of: rule), rule.expression)
                if let hiding = earlier.first(where: { one in conjunctions.allSatisfy { b in one.conjunctions.contains { $0.covers(b) } } }) {
                    scanned[rule.index] = hiding.index
                } else {
                    earlier.append((rule.index, conjunctions))
                }
            }
            let warnings = RuleShadowing.warnings(ruleset)
            XCTAssertGreaterThan(scanned.count, 100, family.rawValue)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: warnings.map { ($0.rule.index, $0.earlier.index) }), scanned, family.rawValue)
        }
    }

    func testWarningsSayWhichRuleHidesWhich() throws {
        let ruleset = try Ruleset.parse("""
            policy pass
            drop src net 10.0.0.0/8
            pass tcp dst port 22
            pass src host 10.1.2.3 and tcp dst port 22
            pass tcp  dst port 22
            drop udp port 53
            drop udp dst port 53 and src net 192.168.0.0/16
            pass not tcp
            pass not tcp
            drop tcp src port 80 or src net 10.0.0.0/8
            drop src host 10.9.9.9 and tcp
            """, file: "rules.conf")
        XCTAssertEqual(RuleShadowing.warnings(ruleset).map { $0.message(file: ruleset.file) }, [
            "rules.conf:4: warning: rule 3 never matches: rule 1 (line 2) matches every packet it does, and drops them: rule 3 would pass them",
            "rules.conf:5: warning: rule 4 never matches: it duplicates rule 2 (line 3)",
            "rules.conf:7: warning: rule 6 never matches: rule 5 (line 6) matches every packet it does",
            "rules.conf:9: warning: rule 8 never matches: it duplicates rule 7 (line 8)",
            "rules.conf:11: warning: rule 10 never matches: rule 1 (line 2) matches every packet it does",
        ])
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
