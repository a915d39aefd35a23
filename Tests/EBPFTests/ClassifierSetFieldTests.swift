import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset
import FilterLanguage

/// Sets inside a conjunction (`src net @bl and tcp dst portrange 1024-65535`) in the packet
/// classifier: each `QUALIFIERS @NAME` is a test that the address is in the set, looked up in the
/// set's own table. Held to libpcap with the sets written out (`(src net A or B)`): the
/// decomposition by the field matcher, the tables walked in Swift by the matcher, the program in
/// the kernel at XDP and TC by verdict and every counter.
final class ClassifierSetFieldTests: XCTestCase {
    /// Entries from the addresses `DecomposableRules.frames` carry (hosts and prefixes of both
    /// families; `c` IPv4 only, `d` IPv6 only).
    static let sets: [String: [String]] = [
        "a": ["10.0.0.0/8", "2001:db8::1"],
        "b": ["1.2.3.4", "5.6.7.0/24", "2001:db8::/127"],
        "c": ["9.9.9.9", "1.2.0.0/16"],
        "d": ["2001:db8::2"],
    ]

    struct SetRule {
        /// As written in a rules file, and with its set written out as libpcap reads it.
        var text: String
        var writtenOut: String
        var verdict: Verdict
    }

    /// Random rules naming sets beside random decomposable expressions, in the ways rules name
    /// them (`and`, `or`, two sets, a protocol qualifier, `not`), those libpcap compiles.
    static func setRules(count: Int, seed: UInt64, names: [String] = ["a", "b", "c", "d"]) -> [SetRule] {
        var expressions = DecomposableRules(seed: seed)
        var random = SeededRandom(seed: seed &+ 7)
        func pick<T>(_ values: [T]) -> T { values[random.next(values.count)] }
        func reference() -> (text: String, writtenOut: String) {
            let qualifiers = pick(["", "", "ip ", "ip6 ", "arp "]) + pick(["", "src ", "src ", "dst ", "dst ", "src or dst ", "src and dst "]) + "net"
            let name = pick(names)
            return ("\(qualifiers) @\(name)", "(\(qualifiers) \(sets[name]!.joined(separator: " or ")))")
        }
        var rules: [SetRule] = []
        while rules.count < count {
            let other = expressions.expression(), one = reference(), two = reference()
            let (text, writtenOut): (String, String)
            switch random.next(13) {
            case 0...3: (text, writtenOut) = ("\(one.text) and (\(other))", "\(one.writtenOut) and (\(other))")
            case 4, 5: (text, writtenOut) = ("(\(other)) and \(one.text)", "(\(other)) and \(one.writtenOut)")
            case 6, 7: (text, writtenOut) = ("\(one.text) or (\(other))", "\(one.writtenOut) or (\(other))")
            case 8, 9:
                let proto = pick(["tcp", "udp", "ip", "ip6"])
                (text, writtenOut) = ("\(one.text) and \(two.text) and \(proto)", "\(one.writtenOut) and \(two.writtenOut) and \(proto)")
            case 10, 11: (text, writtenOut) = ("not \(one.text) and (\(other))", "not \(one.writtenOut) and (\(other))")
            default:
                // `not` of an address beside a set on the same side: refused (see the decomposition test).
                (text, writtenOut) = ("ip and (not src net 10.0.0.0/8 or \(one.text))", "ip and (not src net 10.0.0.0/8 or \(one.writtenOut))")
            }
            guard [false, true].allSatisfy({ (try? Libpcap.compile(writtenOut, optimize: $0).get()) != nil }) else { continue }
            rules.append(SetRule(text: text, writtenOut: writtenOut, verdict: random.next(2) == 0 ? .drop : .pass))
        }
        return rules
    }

    static let setPrefixes: [String: [AddressPrefix]] = sets.mapValues { $0.compactMap(RuleDecomposition.classifierSetEntry) }

    func testSetEntriesTheClassifierHolds() {
        XCTAssertEqual(Self.sets.values.joined().filter { RuleDecomposition.classifierSetEntry($0) == nil }, [])
        for refused in ["2001:db8::/64", "0.0.0.0/0", "80", "10.0.0.0 mask 255.0.0.0", "example.com", "::/0"] {
            XCTAssertNil(RuleDecomposition.classifierSetEntry(refused), refused)
        }
        XCTAssertEqual(RuleDecomposition.classifierSetEntry("10.1.2.0/24")?.length, 24)
        XCTAssertEqual(RuleDecomposition.classifierSetEntry("2001:db8::5")?.length, 128)
    }

    func testSetTestsDecomposeOnlyWhereTheirMeaningIsCertain() throws {
        func conjunctions(_ text: String, _ sets: [String: [String]] = ClassifierSetFieldTests.sets) -> [FieldConjunction]? {
            RuleDecomposition.conjunctions(ofSetRule: text, sets: sets)
        }
        let tcp22 = try XCTUnwrap(conjunctions("src net @a and tcp dst port 22"))
        XCTAssertTrue(tcp22.allSatisfy { $0.sourceSets == ["a"] && $0.source == nil }, "\(tcp22)")
        XCTAssertEqual(Set(tcp22.compactMap(\.family)), [.ipv4, .ipv6], "both families, whatever the set holds")
        // IPv4-only qualifiers: the families the set holds.
        let ipOnly = try XCTUnwrap(conjunctions("ip src net @c and udp"))
        XCTAssertEqual(Set(ipOnly.compactMap(\.family)), [.ipv4])
        // A set and a prefix on one side: both tested.
        let both = try XCTUnwrap(conjunctions("src net @a and src net 10.1.0.0/16 and tcp"))
        XCTAssertTrue(both.contains { $0.sourceSets == ["a"] && $0.source?.length == 16 })
        // Source or destination: on a frame cut between the addresses libpcap's verdict hangs on
        // the order of the entries (the destination of the first is read before the source of the
        // second).
        XCTAssertNil(conjunctions("host @a and tcp"))
        XCTAssertNil(conjunctions("src or dst net @a and tcp"))
        // Not: the complement changes with every entry. Ports, short IPv6 prefixes, /0: no set table.
        XCTAssertNil(conjunctions("not src net @a and tcp"))
        XCTAssertNil(conjunctions("tcp dst port @p", ["p": ["22", "80"]]))
        XCTAssertNil(conjunctions("src net @s and tcp", ["s": ["2001:db8::/64"]]))
        XCTAssertNil(conjunctions("src net @s and tcp", ["s": ["10.0.0.0/8", "0.0.0.0/0"]]))
        XCTAssertNil(conjunctions("src net @a and len > 100"))
        // `src and dst net @c`: both addresses in one entry (`src and dst net A or B`), which two
        // set tests cannot say; `src net @c and dst net @c` (each in some entry) they can.
        XCTAssertNil(conjunctions("src and dst net @c and tcp"))
        let twice = try XCTUnwrap(conjunctions("src net @c and dst net @c and tcp"))
        XCTAssertTrue(twice.allSatisfy { $0.sourceSets == ["c"] && $0.destinationSets == ["c"] }, "\(twice)")
        // A stand-in the rule names itself, in any spelling, stays a filter rather than be taken for the set.
        XCTAssertNil(conjunctions("src net @a and dst host 240.255.254.1 and tcp"))
        XCTAssertNil(conjunctions("src net @a and dst host 240.255.253.1 and tcp"))
        XCTAssertNil(conjunctions("src net @a and dst host FDFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFE:0001 and tcp"))
        XCTAssertNotNil(conjunctions("src net @a and dst host 240.255.252.1 and tcp"))
        // `not` beside a set: once the set holds 10.0.0.0/8 every source passes, and libpcap
        // drops the address load (a frame too short for it matches).
        XCTAssertNil(conjunctions("ip and (not src net 10.0.0.0/8 or src net @a)"))
        XCTAssertNil(conjunctions("tcp and (src net @a or not src host 1.2.3.4)"))
    }

    /// The decomposition of random set rules matches what libpcap matches with the sets written out.
    func testSetRulesMatchWhatLibpcapMatchesWrittenOut() throws {
        var decomposed = 0, refusedNot = 0
        for rule in Self.setRules(count: 450, seed: 31) {
            guard let conjunctions = RuleDecomposition.conjunctions(ofSetRule: rule.text, sets: Self.sets) else {
                if rule.text.contains("not ") { refusedNot += 1 }
                continue
            }
            XCTAssertFalse(rule.text.contains("not "), "'\(rule.text)' must not decompose")
            decomposed += 1
            let compiled = try Libpcap.compile(rule.writtenOut, optimize: true).get()
            let filter = Libpcap.PreparedFilter(compiled)
            for packet in FieldConstraintsTests.packets {
                let libpcap = filter.run(packet: packet, wireLength: UInt32(packet.count)) != 0
                let ours = conjunctions.contains { $0.matches(packet, sets: Self.setPrefixes) }
                guard libpcap == ours else {
                    return XCTFail("'\(rule.text)' ('\(rule.writtenOut)'): libpcap \(libpcap ? "matches" : "rejects"), the decomposition "
                                   + "\(ours ? "matches" : "rejects") the \(packet.count)-byte frame "
                                   + VerdictComparison.hexDump(packet, limit: 64))
                }
            }
        }
        XCTAssertGreaterThan(decomposed, 80)
        XCTAssertGreaterThan(refusedNot, 10)
    }

    /// The tables walked in Swift give the first rule whose conjunctions match, with the sets'
    /// entries as the set tables hold them.
    func testTablesWithSetTestsWalkedGiveTheRulesFirstMatch() throws {
        var members: [ClassifierBuilder.Member] = [], conjunctions: [[FieldConjunction]] = []
        var tests = Set<PacketClassifier.SetTest>()
        for rule in Self.setRules(count: 300, seed: 32) {
            guard let found = ClassifierBuilder.conjunctions(ofSetRule: rule.text, sets: Self.sets) else { continue }
            let mine = Set(found.flatMap { c in
                c.sourceSets.map { PacketClassifier.SetTest(name: $0, side: .source) }
                    + c.destinationSets.map { PacketClassifier.SetTest(name: $0, side: .destination) }
            })
            guard tests.union(mine).count <= PacketClassifier.maximumSetTests else { continue }
            tests.formUnion(mine)
            conjunctions.append(found)
            members.append(ClassifierBuilder.Member(conjunctions: found, slot: members.count + 1, verdict: rule.verdict))
        }
        XCTAssertGreaterThan(members.count, 40)
        XCTAssertGreaterThanOrEqual(tests.count, 4)
        for threshold in [Int.max, 0] {
            let classifier = ClassifierBuilder.build(members, number: 0, sets: Self.sets, summaryThreshold: threshold)
            XCTAssertEqual(classifier.setTests.count, tests.count)
            let walk = ClassifierWalk(classifier)
            var reached = Set<Int>(), failures: [String] = []
            for packet in FieldConstraintsTests.packets {
                let expected = conjunctions.firstIndex { $0.contains { $0.matches(packet, sets: Self.setPrefixes) } }.map { $0 + 1 }
                let found = walk.firstEntry(in: packet).map { classifier.entries[$0].slot }
                if let expected { reached.insert(expected) }
                if expected != found, failures.count < 5 {
                    failures.append("\(packet.count)-byte frame \(VerdictComparison.hexDump(packet, limit: 64)): rule "
                                    + "\(expected.map(String.init) ?? "none") matches first, the walk says \(found.map(String.init) ?? "none")")
                }
            }
            XCTAssertEqual(failures, [], "summary threshold \(threshold)")
            XCTAssertGreaterThanOrEqual(reached.count, 10, "rules with set tests decide frames")
        }
    }

    /// A set test beside rules that test no TCP flag or ICMP type: the keys of set tests passed
    /// lie past the kind array, and must not be taken for transport-byte keys (they were: every
    /// TCP frame then missed the plain rules).
    func testSetTestBesidePlainRulesWithoutTransportBytes() throws {
        let sets = ["ext": ["192.0.2.0/24"]]
        var members: [ClassifierBuilder.Member] = [], conjunctions: [[FieldConjunction]] = []
        let rules = ["src net @ext and dst net 198.51.100.0/24 and udp"] + (1...40).map { "dst host 203.0.113.\($0) and tcp" }
            + ["src net 10.0.0.0/8 and udp dst portrange 53-54"]
        for (index, rule) in rules.enumerated() {
            let found = try XCTUnwrap(rule.contains("@") ? ClassifierBuilder.conjunctions(ofSetRule: rule, sets: sets)
                                      : RuleDecomposition.conjunctions(of: FilterParser.parse(rule)), rule)
            conjunctions.append(found)
            members.append(ClassifierBuilder.Member(conjunctions: found, slot: index + 1, verdict: .drop))
        }
        let classifier = ClassifierBuilder.build(members, number: 0, sets: sets, summaryThreshold: Int.max)
        XCTAssertEqual(classifier.setTests.count, 1)
        XCTAssertFalse(classifier.hasTransportBytes)
        let walk = ClassifierWalk(classifier)
        let prefixes = sets.mapValues { $0.compactMap(RuleDecomposition.classifierSetEntry) }
        // TCP to 203.0.113.1 (rule 2), UDP from 192.0.2.7 to 198.51.100.4 (rule 1), UDP from 10.9.0.1 port 53 (rule 42).
        func frame(_ source: [UInt8], _ destination: [UInt8], _ number: UInt8, _ transport: [UInt8]) -> [UInt8] {
            PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(source: source, destination: destination, protocol: number, transport))
        }
        let frames = [frame([10, 9, 0, 1], [203, 0, 113, 1], 6, PacketBuilder.tcp(source: 1, destination: 22)),
                      frame([192, 0, 2, 7], [198, 51, 100, 4], 17, PacketBuilder.udp(source: 1, destination: 53)),
                      frame([10, 9, 0, 1], [198, 51, 100, 4], 17, PacketBuilder.udp(source: 1, destination: 53))]
        XCTAssertEqual(frames.map { walk.firstEntry(in: $0).map { classifier.entries[$0].slot } }, [2, 1, 42])
        for packet in FieldConstraintsTests.packets + frames {
            let expected = conjunctions.firstIndex { $0.contains { $0.matches(packet, sets: prefixes) } }.map { $0 + 1 }
            XCTAssertEqual(walk.firstEntry(in: packet).map { classifier.entries[$0].slot }, expected,
                           "\(packet.count)-byte frame \(VerdictComparison.hexDump(packet, limit: 64))")
        }
    }

    /// A set too large to write out as an `or` (1,506 entries) in rules among plain ones: they
    /// run only in the classifier, and the kernel decides every packet and counts every rule as
    /// libpcap's first match with the set written out.
    func testSetsTooLargeToWriteOutInTheKernelGiveLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let big = (0..<1500).map { "172.16.\($0 / 256).\($0 % 256)" } + ["10.0.0.0/8", "1.2.3.4", "5.6.7.0/24", "9.9.9.9", "1.2.0.0/16", "2001:db8::1"]
        XCTAssertGreaterThan(big.count, RulesFile.maximumWrittenOutSetSize)
        let plain = ClassifierTests.decomposableRules(count: 20, seed: 35)
        let written = "(src net \(big.joined(separator: " or ")))", writtenDestination = "(dst net \(big.joined(separator: " or ")))"
        let setRules: [(text: String, expression: String, verdict: Verdict)] = [
            ("src net @big and tcp", "\(written) and tcp", .drop),
            ("dst net @big and udp dst portrange 50-60000", "\(writtenDestination) and udp dst portrange 50-60000", .pass),
            ("src net @big and dst net @c and tcp", "\(written) and (dst net \(Self.sets["c"]!.joined(separator: " or "))) and tcp", .pass),
        ]
        var rules: [(expression: String, verdict: Verdict)] = []
        var text = "policy drop\nset big { \(big.joined(separator: ", ")) }\nset c { \(Self.sets["c"]!.joined(separator: ", ")) }\n"
        for index in 0..<20 {
            if index % 7 == 3, let rule = setRules.dropFirst(index / 7).first {
                rules.append((rule.expression, rule.verdict))
                text += "\(rule.verdict.rawValue) \(rule.text)\n"
            }
            rules.append(plain[index])
            text += "\(plain[index].verdict.rawValue) \(plain[index].expression)\n"
        }
        let ruleset = try Ruleset.parse(text, file: "big.conf")
        XCTAssertEqual(ruleset.rules.filter(\.runsOnlyInClassifier).map(\.index), [3, 11, 19])
        let reached = Set(ClassifierTests.kernelPackets.map(try LibpcapRuleset(rules).slot(for:)))
        XCTAssertGreaterThanOrEqual(reached.intersection([4, 12, 20]).count, 2, "the set rules decide packets: \(reached.sorted())")
        try compareFirstMatch(rules, packets: ClassifierTests.kernelPackets, policy: .drop, label: "a set too large to write out", text: text)
    }

    /// Set rules among plain decomposable rules, applied as `apply` does: those with set tests
    /// go into the classifier (beyond six set tests, and `not @set`, they stay filters), and the
    /// kernel decides every packet and counts every rule as libpcap's first match.
    func testSetRulesInTheKernelGiveLibpcapsFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        let plain = ClassifierTests.decomposableRules(count: 60, seed: 33)
        let setRules = Self.setRules(count: 60, seed: 34)
        var rules: [(expression: String, verdict: Verdict)] = [], text = "policy drop\n"
        for name in Self.sets.keys.sorted() { text += "set \(name) { \(Self.sets[name]!.joined(separator: ", ")) }\n" }
        for index in 0..<60 {
            rules.append(plain[index])
            text += "\(plain[index].verdict.rawValue) \(plain[index].expression)\n"
            rules.append((setRules[index].writtenOut, setRules[index].verdict))
            text += "\(setRules[index].verdict.rawValue) \(setRules[index].text)\n"
        }
        // Each set on both sides: eight (set, side) tests, two more than a classifier reads.
        func written(_ side: String, _ name: String) -> String { "(\(side) net \(Self.sets[name]!.joined(separator: " or ")))" }
        for (one, two) in [("a", "b"), ("b", "a"), ("c", "c"), ("d", "d")] {
            rules.append(("\(written("src", one)) and \(written("dst", two)) and tcp", .pass))
            text += "pass src net @\(one) and dst net @\(two) and tcp\n"
        }
        let placement = try Ruleset.parse(text, file: "sets.conf").classifierPlacement
        let classifiedSetRules = (0..<60).filter { index in
            RuleDecomposition.conjunctions(ofSetRule: setRules[index].text, sets: Self.sets) != nil
                && !placement.elsewhere.contains { $0.rules.contains(2 * index + 1) }
        }
        XCTAssertGreaterThanOrEqual(classifiedSetRules.count, 8, "set rules go into the classifier")
        XCTAssertTrue(placement.elsewhere.contains { $0.reason == .tooManySets }, "four sets on two sides are more than six tests")
        try compareFirstMatch(rules, packets: ClassifierTests.kernelPackets, policy: .drop, label: "set rules", text: text)
        try compareFirstMatch(rules, packets: ClassifierTests.kernelPackets, policy: .drop, label: "set rules, summarized", text: text) {
            $0.classifierSummaryThreshold = 0
        }
    }
}
