import XCTest
import Ruleset
@testable import EBPF

/// What `check` reports about the packet classifiers: which rules they take, and why the others
/// stay filters or lookups — the same placement `segments()` makes.
final class ClassifierPlacementTests: XCTestCase {
    /// 40 distinct 5-tuple rules, a filter, 10 more, a rule with a set, then 40 more: one
    /// classifier takes the 90 in three parts, with the filter and the set rule between them.
    func testFiveTupleRulesAreClassifiedWhereverTheyStandAndTheRestSayWhy() throws {
        // Two shapes in turn, so that no run of one lookup shape is long enough to stay a lookup.
        func tuple(_ index: Int) -> String {
            index % 2 == 0 ? "drop src net 10.\(index).0.0/16 and tcp dst port \(1000 + index)\n"
                : "pass dst host 192.0.2.\(index) and udp src portrange 100-\(200 + index)\n"
        }
        var text = "set admins { 192.0.2.1, 192.0.2.2 }\npolicy pass\n"
        text += (0..<40).map(tuple).joined()
        text += "pass len > 1000\n"                         // rule 41: not a field test
        text += (40..<50).map(tuple).joined()               // rules 42-51: a run of 10
        text += "pass src host @admins\n"                   // rule 52: a set
        text += (50..<90).map(tuple).joined()               // rules 53-92
        let ruleset = try Ruleset.parse(text, file: "p.conf")
        try assertSpecPlacesWhatItsClassifiersHold(ruleset)
        let placement = ruleset.classifierPlacement
        XCTAssertEqual(placement.classifiers, 1)
        XCTAssertEqual(placement.parts, 3)
        XCTAssertEqual(placement.classifiedRules, 90)
        XCTAssertEqual(placement.elsewhere.map(\.reason), [.notFields, .usesSet])
        XCTAssertEqual(placement.elsewhere.map(\.rules), [[40], [51]])
        // The same as the program's segments: three parts of one classifier, in their places.
        let segments = ruleset.segments()
        let parts = segments.compactMap { segment -> ClassifierPart? in
            if case let .classifier(_, part) = segment { part } else { nil }
        }
        XCTAssertEqual(parts.map(\.slots), [1...40, 42...51, 53...92])
        XCTAssertEqual(segments.count, 5, "part, filter, part, set lookup, part")
    }

    /// Fewer than 32 rules that could go into a classifier, however they stand: none.
    func testAFewClassifiableRulesStayFiltersWhateverStandsBetweenThem() throws {
        var text = "policy pass\n"
        for index in 0..<31 { text += "drop src net 10.\(index).0.0/16 and tcp dst port \(1000 + index)\npass len > \(100 + index)\n" }
        let ruleset = try Ruleset.parse(text, file: "f.conf")
        XCTAssertEqual(ruleset.classifierPlacement.classifiers, 0)
        XCTAssertEqual(ruleset.classifierPlacement.elsewhere.map(\.reason), [.notFields, .tooFew])
        var more = try Ruleset.parse(text + "drop src net 10.99.0.0/16 and tcp dst port 999\n", file: "f.conf")
        XCTAssertEqual(more.classifierPlacement.classifiers, 1, "the 32nd makes a classifier of 32 parts")
        XCTAssertEqual(more.classifierPlacement.parts, 32)
        more.classifierMinimumRun = .max
        XCTAssertEqual(more.classifierPlacement.classifiers, 0)
    }

    /// A rule with a set in a conjunction goes in; one that names a set as the classifier cannot
    /// test it says so, apart from rules of other tests.
    func testSetRulesGoInOrSayWhyNot() throws {
        var text = "set bl { 192.0.2.0/24, 198.51.100.7 }\npolicy pass\n"
        text += (0..<40).map { "drop src net 10.\($0).0.0/16 and tcp dst portrange 1000-\(2000 + $0)\n" }.joined()
        text += "drop src net @bl and udp dst portrange 53-54\n" // rule 41: in
        text += "drop net @bl and tcp dst port 22\n"           // rule 42: either side
        text += "drop not src net @bl and tcp dst port 23\n"   // rule 43: not
        text += "drop src net @bl and len > 100\n"             // rule 44: beside `len`
        text += "pass len > 1000\n"                            // rule 45: no set, not fields
        let placement = try Ruleset.parse(text, file: "s.conf").classifierPlacement
        XCTAssertEqual(placement.classifiedRules, 41)
        XCTAssertEqual(placement.elsewhere.map(\.reason), [.notFields, .setNotTestable])
        XCTAssertEqual(placement.elsewhere.map(\.rules), [[44], [41, 42, 43]], "indexes: rules 45, then 42 to 44")
    }

    /// A set too large to write out as an `or` (more than 1,000 entries) in a rule a classifier
    /// can take: the rule runs there only, and a classifier is made for it however few rules
    /// could go in, with every lookup shape merged or not; where none can take it, `check` says
    /// why at the rule.
    func testARuleWithASetTooLargeToWriteOutRunsOnlyInAClassifier() throws {
        let big = "set big { " + (0..<1500).map { "10.\($0 / 256).\($0 % 256).0/24" }.joined(separator: ", ") + " }\n"
        let text = big + "policy pass\ndrop udp port 53\ndrop src net @big and tcp dst portrange 1024-65535\npass len > 1000\n"
        let ruleset = try Ruleset.parse(text, file: "b.conf")
        XCTAssertEqual(ruleset.rules.map(\.runsOnlyInClassifier), [false, true, false])
        XCTAssertEqual(ruleset.classifierPlacement.classifiedRules, 2,
                       "made for the one rule, though fewer than \(Ruleset.defaultClassifierMinimumRun) may go in, it takes all that may")
        XCTAssertEqual(ruleset.classifierPlacement.elsewhere.map(\.rules), [[2]])
        try assertSpecPlacesWhatItsClassifiersHold(ruleset)
        // Six (set, side) tests before it: the seventh stays out, and cannot be written out.
        var six = "set s1 { 192.0.2.1 }\nset s2 { 192.0.2.2 }\nset s3 { 192.0.2.3 }\n" + big
        six += (1...3).map { "drop src net @s\($0) and dst net @s\($0) and tcp\n" }.joined()
        six += "drop src net @big and tcp dst portrange 1024-65535\n"
        XCTAssertThrowsError(try Ruleset.parse(six, file: "six.conf")) {
            let message = "\($0)"
            XCTAssertTrue(message.contains("six.conf:8:6: the set 'big' has 1500 entries, too many to write out") && message.contains(
                "a packet classifier would take the rule but does not here: it would test sets beyond the first 6"), message)
        }
    }

    /// `check` and `bench` report the placement of the spec the load compiles: the rules it says
    /// the classifiers take are exactly those its classifier segments count, with the default
    /// runs and with every lookup shape merged (`minimumRun: 1`, where lookups take them).
    private func assertSpecPlacesWhatItsClassifiersHold(_ ruleset: Ruleset, file: StaticString = #filePath, line: UInt = #line) throws {
        for minimumRun in [nil, 1] {
            let spec = RulesetSpec(ruleset, minimumRun: minimumRun)
            let held = spec.segments.flatMap { segment -> [Int] in
                guard case .classifier = segment else { return [] }
                return segment.counterSlots.compactMap(Ruleset.ruleIndex(ofCounterSlot:))
            }
            let elsewhere = spec.placement.elsewhere.flatMap(\.rules)
            XCTAssertEqual(Set(held), Set(ruleset.rules.indices).subtracting(elsewhere), "minimumRun \(minimumRun ?? 0)", file: file, line: line)
            XCTAssertEqual(spec.placement.classifiedRules, Set(held).count, file: file, line: line)
            XCTAssertEqual(spec.segments, ruleset.segments(minimumRun: minimumRun), file: file, line: line)
        }
    }

    func testASmallRulesetHasNoClassifier() throws {
        let ruleset = try Ruleset.parse("policy drop\npass tcp dst port 22\npass udp dst port 53\n", file: "s.conf")
        XCTAssertEqual(ruleset.classifierPlacement.classifiers, 0)
        XCTAssertEqual(ruleset.classifierPlacement.elsewhere.map(\.reason), [.tooFew])
    }
}
