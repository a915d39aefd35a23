import XCTest
import EBPF
@testable import Ruleset

/// `LiveSetChange.plan`: the difference it computes turns the tables of the old entries into
/// exactly those `apply` fills for the new ones; refusals name the rule and change nothing.
/// (The kernel test `EndToEndTests.LiveSetTests` runs the changed tables against libpcap.)
final class LiveSetPlanTests: XCTestCase {
    let text = """
        policy pass
        set bl {
          10.0.0.0/8, 10.2.3.0/24, 10.9.9.9
          10.1.0.0/16   # nested
        }
        set web { 22, 80 }
        pass src net 10.1.2.0/24 and tcp dst port @web
        drop src net @bl
        pass src net 172.16.0.0/12
        drop tcp dst port 8080

        """

    /// The hash maps per length of the program for `text`.
    private func hashed(_ text: String) throws -> [MapName: [Int]] {
        var hashed: [MapName: [Int]] = [:]
        for case let .lookup(group) in try Ruleset.parse(text, file: "r.conf").segments() { hashed.merge(group.hashedLengths) { $1 } }
        return hashed
    }

    /// `hashed`, by the tables' names as written.
    private func hashedByName(_ text: String) throws -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try hashed(text).map { ($0.key.text, $0.value) })
    }

    /// The tables for `text`, with the hash maps of the program for `running` (as a live change keeps them).
    private func tables(_ text: String, running: String? = nil) throws -> [MapName: [[UInt8]: [UInt8]]] {
        let ruleset = try Ruleset.parse(text, file: "r.conf")
        var result: [MapName: [[UInt8]: [UInt8]]] = [:]
        for table in ruleset.lookupTables(for: XDPHook(), keepingHashedLengths: try hashed(running ?? text)) {
            result[table.name] = Dictionary(table.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        }
        return result
    }

    /// Applies each step's planned difference to the tables of the program that runs and
    /// compares with the tables for the new text.
    private func follow(_ text: String, _ steps: [(add: [String], remove: [String], set: String)], lines: [Int]) throws -> String {
        var current = text
        let running = text
        for step in steps {
            let pins = try hashed(running).flatMap { table, lengths in lengths.map { table.pinEntry + "-\($0)" } }
            let change = try LiveSetChange.plan(text: current, file: "r.conf", set: step.set, adding: step.add, removing: step.remove,
                                                pinnedEntries: pins, hook: XDPHook())
            var tables = try tables(current, running: running)
            for (name, updates) in change.updates {
                for update in updates {
                    XCTAssertEqual(tables[name]?[update.key], update.previous, "\(step): the value to restore on undo")
                    tables[name, default: [:]][update.key] = update.value
                }
            }
            for (name, deletions) in change.deletions {
                for deletion in deletions {
                    XCTAssertEqual(tables[name]?[deletion.key], deletion.previous, "\(step): the value to restore on undo")
                    tables[name]?[deletion.key] = nil
                }
            }
            XCTAssertEqual(tables, try self.tables(change.text, running: running), "\(step)")
            XCTAssertFalse(change.isEmpty, "\(step) changes some entry")
            let file = try RulesFile.parse(change.text, file: "r.conf")
            XCTAssertEqual(file.rules.map(\.line), lines, "every rule stays on its line")
            XCTAssertEqual(file.sets[step.set], change.entries)
            current = change.text
        }
        return current
    }

    func testTheDifferenceTurnsTheOldTablesIntoTheNew() throws {
        XCTAssertEqual(try hashedByName(text), ["lookup.port.v4": [24]], "the address table has four lengths: a trie; the port table one: hashed")
        let current = try follow(text, [
            (["10.1.2.0/24", "172.16.5.0/24"], [], "bl"), (["2001:db8::1", "10.0.0.0/9"], [], "bl"), ([], ["10.0.0.0/8"], "bl"),
            (["443", "22"], [], "web"), ([], ["10.1.0.0/16", "2001:db8::1"], "bl"),
        ], lines: [7, 8, 9, 10])
        XCTAssertEqual(try LiveSetChange.plan(text: current, file: "r.conf", set: "web", adding: ["22"], hook: XDPHook()).unchanged, ["22"])
    }

    /// A set only rules in packet classifiers test: the change is worked out on the set's own
    /// tables alone, and is the change the whole computation finds (which compiles the rules
    /// twice and compares every table) — applied to the old tables it gives the new ones.
    func testASetOnlyClassifiedRulesTestChangesItsOwnTablesAsTheWholeComputationDoes() throws {
        var text = "policy pass\nset ext { 192.0.2.0/24, 198.51.100.7, 2001:db8::5 }\n"
        text += (0..<40).map { "drop src net 10.\($0).0.0/16 and tcp dst portrange 1000-\(2000 + $0)\n" }.joined()
        text += "drop src net @ext and udp dst portrange 53-54\n"
        text += (40..<80).map { "pass dst net 10.\($0).0.0/16 and udp\n" }.joined()
        text += "pass dst net @ext and tcp and dst net 192.0.0.0/8\n"
        let ruleset = try Ruleset.parse(text, file: "c.conf")
        XCTAssertEqual(ruleset.classifierPlacement.classifiedRules, 82)
        let pinned = Ruleset.lookupTables(segments: ruleset.segments(), hook: XDPHook()).map(\.name.pinEntry) + ["program", "counters"]
        XCTAssertTrue(pinned.contains("classifier-set-ext-v6"), "\(pinned)")
        for (adding, removing) in [(["203.0.113.0/24", "2001:db8::/120", "192.0.2.0/24"], [String]()), ([], ["198.51.100.7", "2001:db8::5"]),
                                   (["10.1.0.0/16"], ["192.0.2.0/24"])] {
            let label = "add \(adding) del \(removing)"
            let fast = try LiveSetChange.plan(text: text, file: "c.conf", set: "ext", adding: adding, removing: removing,
                                              pinnedEntries: pinned, hook: XDPHook())
            let whole = try LiveSetChange.plan(text: text, file: "c.conf", set: "ext", adding: adding, removing: removing, hook: XDPHook())
            XCTAssertEqual(fast.text, whole.text, label)
            XCTAssertEqual(Set(fast.updates.keys), Set(fast.tableSizes.keys), label)
            XCTAssertTrue(fast.updates.keys.allSatisfy { $0.text.hasPrefix("classifier.set.ext.") }, "\(label): \(fast.updates.keys)")
            // Applied to the tables as they are, each gives the tables `apply` fills for the new text.
            let expected = try tables(whole.text)
            for change in [fast, whole] {
                var tables = try self.tables(text)
                for (name, updates) in change.updates { for update in updates { tables[name, default: [:]][update.key] = update.value } }
                for (name, deletions) in change.deletions { for deletion in deletions { tables[name]?[deletion.key] = nil } }
                XCTAssertEqual(tables, expected, label)
                for (name, size) in change.tableSizes { XCTAssertEqual(expected[name]?.count, size, "\(label): \(name)") }
            }
        }
    }

    /// A set too large to write out, in a rule a classifier takes among few rules: it stays in
    /// the classifier as it shrinks to 1,000 entries (which could be written out), so the
    /// program is the same either side of the limit and the change stays on the set's tables.
    /// (Debug builds optimize a 1,000-entry `or` slowly: two compilations of it here.)
    func testASetAcrossTheWrittenOutLimitStaysInItsClassifier() throws {
        let big = (0..<1001).map { "10.\($0 / 256).\($0 % 256).0/24" }
        func text(_ entries: [String]) -> String {
            "policy pass\nset big { \(entries.joined(separator: ", ")) }\nset bl { 192.0.2.0/24 }\n"
                + "drop udp port 53\ndrop src net @big and tcp dst portrange 1024-65535\npass len > 1000\ndrop src net @bl\n"
        }
        let running = try Ruleset.parse(text(big), file: "b.conf")
        let smaller = try Ruleset.parse(text(Array(big.dropLast())), file: "b.conf")
        XCTAssertEqual(running.rules.map(\.runsOnlyInClassifier), [false, true, false, false])
        XCTAssertEqual(smaller.rules.map(\.runsOnlyInClassifier), [false, false, false, false])
        XCTAssertEqual(try smaller.ebpfProgram(for: XDPHook()), try running.ebpfProgram(for: XDPHook()), "the same program either side of the limit")
        let pinned = Ruleset.lookupTables(segments: running.segments(), hook: XDPHook()).map(\.name.pinEntry) + ["program", "counters"]
        let shrink = try LiveSetChange.plan(text: text(big), file: "b.conf", set: "big", removing: [big.last!], pinnedEntries: pinned, hook: XDPHook())
        XCTAssertEqual(Set(shrink.updates.keys), [PacketClassifier.setTable("big", .ipv4), PacketClassifier.setTable("big", .ipv6)])
        XCTAssertEqual(shrink.deletions[PacketClassifier.setTable("big", .ipv4)]?.map(\.key), [[24, 0, 0, 0, 10, 3, 232, 0]])
    }

    /// A set in a hash map per prefix length takes and loses prefixes of its lengths live (an
    /// emptied length keeps its map); a prefix of another length needs a new program.
    func testHashedSetsKeepTheirLengths() throws {
        let hosts = "set hosts { 192.0.2.1, 192.0.2.2, 10.0.0.0/8 }\ndrop src host @hosts\ndrop src net 10.0.0.0/8\n"
        let text = hosts.replacingOccurrences(of: "drop src host @hosts", with: "drop src net @hosts")
        XCTAssertEqual(try hashedByName(text), ["lookup.address.v4.src": [8, 32]])
        _ = try follow(text, [(["192.0.2.3", "192.0.2.4"], [], "hosts"), ([], ["10.0.0.0/8"], "hosts"), (["11.0.0.0/8"], ["192.0.2.1"], "hosts")],
                       lines: [2, 3])
        XCTAssertThrowsError(try LiveSetChange.plan(text: text, file: "r.conf", set: "hosts", adding: ["198.51.100.0/24"], hook: XDPHook())) {
            XCTAssert("\($0)".contains("the table lookup.address.v4.src is a hash map per prefix length (/8, /32), the fastest lookup for few lengths, and a prefix of another length (/24) needs a new program"), "\($0)")
        }
    }

    func testRefusalsNameTheRuleOrEntry() {
        func refusal(_ set: String, add: [String] = [], remove: [String] = [], in rules: String? = nil) -> String {
            do { _ = try LiveSetChange.plan(text: rules ?? text, file: "r.conf", set: set, adding: add, removing: remove, hook: XDPHook()); return "" }
            catch { return error.description }
        }
        XCTAssert(refusal("bl", add: ["10.0.0.300"]).contains("'10.0.0.300' cannot be in @bl: rule 2 (line 8) 'drop src net @bl' needs an IPv4 address or prefix"))
        XCTAssert(refusal("web", add: ["http"]).contains("'http' cannot be in @web: rule 1 (line 7) 'pass src net 10.1.2.0/24 and tcp dst port @web' needs a port number (0 to 65535) there"))
        XCTAssert(refusal("bl", add: ["2001:db8::/32", "2001:db9::/32"]).contains("rule 2 (line 8) 'drop src net @bl' would no longer be a lookup"))
        XCTAssert(refusal("bl", remove: ["1.2.3.4"]).contains("'1.2.3.4' is not in @bl"))
        XCTAssert(refusal("bl", remove: ["10.0.0.0/8", "10.2.3.0/24", "10.9.9.9", "10.1.0.0/16"]).contains("empty"))
        XCTAssert(refusal("nope", add: ["1.2.3.4"]).contains("no set 'nope' in these rules (sets: bl, web)"))
        XCTAssert(refusal("web", add: ["443"], in: text + "pass udp dst port @web and ip6\n")
                    .contains("rule 5 (line 11) 'pass udp dst port @web and ip6' uses @web in a filter compiled into the program"))
    }

    /// An address and its host prefix are one entry; so are two spellings of one IPv6 address.
    /// Adding one when the other is there changes nothing; removing either removes both.
    func testEntriesCompareAsAddressesNotText() throws {
        let rules = "set bl { 10.9.0.2, 2001:db8::1 }\ndrop src net @bl\n"
        func plan(add: [String] = [], remove: [String] = [], in text: String = rules) throws -> LiveSetChange {
            try LiveSetChange.plan(text: text, file: "r.conf", set: "bl", adding: add, removing: remove, hook: XDPHook())
        }
        let again = try plan(add: ["10.9.0.2/32", "2001:DB8:0::1/128"])
        XCTAssertEqual(again.entries, ["10.9.0.2", "2001:db8::1"], "nothing new")
        XCTAssertEqual(again.unchanged, ["10.9.0.2/32", "2001:DB8:0::1/128"])
        XCTAssertTrue(again.isEmpty)
        // Both spellings in the set (as a rules file may have them): removing one removes both.
        let both = try plan(remove: ["10.9.0.2"], in: "set bl { 10.9.0.2, 10.9.0.2/32, 2001:db8::1 }\ndrop src net @bl\n")
        XCTAssertEqual(both.entries, ["2001:db8::1"])
        XCTAssertEqual(try plan(remove: ["10.9.0.2/32"]).entries, ["2001:db8::1"])
        // An argument given twice (or in two spellings) is added once and is not "already there".
        let twice = try plan(add: ["1.2.3.4", "1.2.3.4", "1.2.3.4/32", "5.6.7.8"])
        XCTAssertEqual(twice.entries, ["10.9.0.2", "2001:db8::1", "1.2.3.4", "5.6.7.8"])
        XCTAssertEqual(twice.unchanged, [])
    }

    /// Where no rule uses the set, an entry must still be what a lookup could hold: nothing
    /// else is pinned into the ruleset text.
    func testEntriesOfAnUnusedSetAreChecked() throws {
        let rules = "set bl { 10.9.0.2 }\nset web { 80 }\ndrop src net 192.0.2.0/24\n"
        func refusal(_ set: String, _ entries: [String]) -> String {
            do { _ = try LiveSetChange.plan(text: rules, file: "r.conf", set: set, adding: entries, hook: XDPHook()); return "" }
            catch { return error.description }
        }
        XCTAssertEqual(refusal("bl", ["300.1.1.1"]), "'300.1.1.1' is not an address, prefix or port for @bl")
        XCTAssertEqual(refusal("bl", ["www.example.com"]), "'www.example.com' is not an address, prefix or port for @bl")
        XCTAssertEqual(refusal("web", ["70000"]), "'70000' cannot be in @web: a port is 0 to 65535")
        XCTAssertTrue(refusal("bl", ["192.0.2.1/24"]).contains("192.0.2.1/24 has host bits set (libpcap refuses it too): write 192.0.2.0/24"))
        XCTAssertEqual(refusal("bl", ["10.0.0.0/8", "2001:db8::/32", "443"]), "")
    }

    /// Input libpcap takes but a lookup cannot: the refusal says why, not "needs an address".
    func testRefusalsOfLibpcapInputNameTheReason() {
        func refusal(_ entry: String) -> String {
            do { _ = try LiveSetChange.plan(text: text, file: "r.conf", set: "bl", adding: [entry], hook: XDPHook()); return "" }
            catch { return error.description }
        }
        XCTAssertEqual(refusal("10"), "'10' cannot be in @bl: rule 2 (line 8) 'drop src net @bl': a bare network number "
                                      + "('net 10' in libpcap) is not a table lookup; write 10.0.0.0/8")
        XCTAssertEqual(refusal("192.0.2.1/24"), "'192.0.2.1/24' cannot be in @bl: rule 2 (line 8) 'drop src net @bl': "
                                                + "192.0.2.1/24 has host bits set (libpcap refuses it too): write 192.0.2.0/24")
        XCTAssertTrue(refusal("2001:db8::1/32").contains("has host bits set (libpcap refuses it too): write 2001:db8:0:0:0:0:0:0/32"))
    }

    /// A rule whose set is too large to write out has no program: asking for it throws rather
    /// than answering with one that matches nothing, and the rule runs as a lookup.
    func testARuleWithoutAProgramSaysSo() throws {
        let unique = (0..<1500).map { "10.\($0 / 256).\($0 % 256).0/24" }
        let ruleset = try Ruleset.parse("set big { \(unique.joined(separator: ", ")) }\ndrop src net @big\n", file: "big.conf")
        XCTAssertThrowsError(try ruleset.rules[0].program) {
            XCTAssertTrue("\($0)".contains("too many to write out"), "\($0)")
        }
        XCTAssertEqual(ruleset.segments(minimumRun: 1_000_000).count, 1)
        guard case .lookup? = ruleset.segments(minimumRun: 1_000_000).first else { return XCTFail("a lookup") }
    }

    /// `apply` pins a set read from a file with its entries, each rule on its line.
    func testSetFilesArePinnedWithTheirEntries() throws {
        let text = "set f file hosts.txt   # from a file\nset g { 1.2.3.4 }\ndrop src host @f\n"
        let pinned = RulesFile.pinnedText(text, file: "r.conf", sets: ["f": ["10.0.0.1", "10.0.0.2"], "g": ["1.2.3.4"]])
        XCTAssertEqual(pinned, "set f { 10.0.0.1, 10.0.0.2 }\nset g { 1.2.3.4 }\ndrop src host @f\n")
        XCTAssertEqual(RulesFile.pinnedText(text.replacingOccurrences(of: "set f file hosts.txt", with: "set f { 9.9.9.9 }"), file: "r.conf", sets: [:]),
                       text.replacingOccurrences(of: "set f file hosts.txt", with: "set f { 9.9.9.9 }"), "no set files: the text as it is")
    }

    /// A set of 100,000 prefixes in a lookup shape is read entry by entry: no 100,000-term `or`
    /// is parsed or compiled. Where the `or` would have to be compiled, the error says why.
    func testLargeSetsAreLookupsAndTooLargeToWriteOut() throws {
        let unique = (0..<100_000).map { "\(1 + $0 / 65536).\($0 / 256 % 256).\($0 % 256).0/24" }
        let sets = "set big { \(unique.joined(separator: ", ")) }\n"
        let start = ContinuousClock.now
        let ruleset = try Ruleset.parse(sets + "drop src net @big\ndrop src net @big and tcp dst port 22\n", file: "big.conf")
        XCTAssertEqual(ruleset.rules.map(\.lookupMatches.count), [unique.count, unique.count])
        XCTAssertEqual(ruleset.lookupTables(for: XDPHook()).first { $0.name.text.hasPrefix("lookup.address.v4.src") }?.entries.count, unique.count)
        print("parsed and merged \(unique.count) set entries in \(ContinuousClock.now - start)")
        let change = try LiveSetChange.plan(text: sets + "drop src net @big\n", file: "big.conf", set: "big", adding: ["203.0.113.0/24"], hook: XDPHook())
        XCTAssertEqual(change.updates.values.map(\.count).reduce(0, +), 1, "one new entry, nothing else changes")
        XCTAssertThrowsError(try LiveSetChange.plan(text: sets + "drop src net @big\n", file: "big.conf", set: "big", adding: ["2001:db8::/32"], hook: XDPHook())) {
            XCTAssert("\($0)".contains("rule 1 (line 2) 'drop src net @big' would no longer be a lookup"), "\($0)")
        }
        let withName = "set big { \(unique.prefix(2000).joined(separator: ", ")), www.example.com }\n"
        XCTAssertThrowsError(try Ruleset.parse(withName + "drop src net @big\n", file: "big.conf")) {
            // Reported where the entry is written (issue 9, item 3), not at the rule.
            let column = withName.utf8.count - " www.example.com }\n".utf8.count + 2
            XCTAssert(($0 as? RulesetError)?.description.hasPrefix("big.conf:1:\(column): unknown network 'www.example.com' (an entry of the set 'big'") ?? false, "\($0)")
        }
        XCTAssertThrowsError(try Ruleset.parse(sets + "drop len > 100 and src net @big\n", file: "big.conf")) {
            XCTAssert(($0 as? RulesetError)?.description.contains("big.conf:2:20: the set 'big' has \(unique.count) entries, too many to write out") ?? false, "\($0)")
        }
        // A packet classifier takes `tcp and src net @big` (the set a table of its own): it runs there only.
        let classified = try Ruleset.parse(sets + "drop tcp and src net @big\n", file: "big.conf")
        XCTAssertEqual(classified.rules.map(\.runsOnlyInClassifier), [true])
        XCTAssertEqual(classified.classifierPlacement.classifiedRules, 1)
    }
}
