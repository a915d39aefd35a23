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
          10.0.0.0/8,
          10.1.0.0/16   # nested
        }
        set web { 22, 80 }
        pass src net 10.1.2.0/24 and tcp dst port @web
        drop src net @bl
        pass src net 172.16.0.0/12
        drop tcp dst port 8080

        """

    private func tables(_ text: String) throws -> [String: [[UInt8]: [UInt8]]] {
        let ruleset = try Ruleset.parse(text, file: "r.conf")
        var result: [String: [[UInt8]: [UInt8]]] = [:]
        for table in ruleset.lookupTables(for: XDPHook()) {
            result[table.name] = Dictionary(table.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        }
        return result
    }

    func testTheDifferenceTurnsTheOldTablesIntoTheNew() throws {
        var current = text
        let steps: [(add: [String], remove: [String], set: String)] = [
            (["10.1.2.0/24", "172.16.5.0/24"], [], "bl"), (["2001:db8::1", "10.0.0.0/9"], [], "bl"), ([], ["10.0.0.0/8"], "bl"),
            (["443", "22"], [], "web"), ([], ["10.1.0.0/16", "2001:db8::1"], "bl"),
        ]
        for step in steps {
            let change = try LiveSetChange.plan(text: current, file: "r.conf", set: step.set, adding: step.add, removing: step.remove, hook: XDPHook())
            var tables = try tables(current)
            for (name, updates) in change.updates { for update in updates { tables[name, default: [:]][update.key] = update.value } }
            for (name, keys) in change.deletions { for key in keys { tables[name]?[key] = nil } }
            XCTAssertEqual(tables, try self.tables(change.text), "\(step)")
            XCTAssertFalse(change.isEmpty, "\(step) changes some entry")
            let file = try RulesFile.parse(change.text, file: "r.conf")
            XCTAssertEqual(file.rules.map(\.line), [7, 8, 9, 10], "every rule stays on its line")
            XCTAssertEqual(file.sets[step.set], change.entries)
            current = change.text
        }
        XCTAssertEqual(try LiveSetChange.plan(text: current, file: "r.conf", set: "web", adding: ["22"], hook: XDPHook()).unchanged, ["22"])
    }

    func testRefusalsNameTheRuleOrEntry() {
        func refusal(_ set: String, add: [String] = [], remove: [String] = [], in rules: String? = nil) -> String {
            do { _ = try LiveSetChange.plan(text: rules ?? text, file: "r.conf", set: set, adding: add, removing: remove, hook: XDPHook()); return "" }
            catch { return error.description }
        }
        XCTAssert(refusal("bl", add: ["10.0.0.300"]).contains("'10.0.0.300' cannot be in @bl: rule 2 (line 8)"))
        XCTAssert(refusal("bl", add: ["2001:db8::/32", "2001:db9::/32"]).contains("rule 2 (line 8) 'drop src net @bl' would no longer be a lookup"))
        XCTAssert(refusal("bl", remove: ["1.2.3.4"]).contains("'1.2.3.4' is not in @bl"))
        XCTAssert(refusal("bl", remove: ["10.0.0.0/8", "10.1.0.0/16"]).contains("empty"))
        XCTAssert(refusal("nope", add: ["1.2.3.4"]).contains("no set 'nope' in these rules (sets: bl, web)"))
        XCTAssert(refusal("web", add: ["443"], in: text + "pass udp dst port @web\n")
                    .contains("rule 5 (line 11) 'pass udp dst port @web' uses @web in a filter compiled into the program"))
    }

    /// A set of 100,000 prefixes in a lookup shape is read entry by entry: no 100,000-term `or`
    /// is parsed or compiled. Where the `or` would have to be compiled, the error says why.
    func testLargeSetsAreLookupsAndTooLargeToWriteOut() throws {
        let unique = (0..<100_000).map { "\(1 + $0 / 65536).\($0 / 256 % 256).\($0 % 256).0/24" }
        let sets = "set big { \(unique.joined(separator: ", ")) }\n"
        let start = ContinuousClock.now
        let ruleset = try Ruleset.parse(sets + "drop src net @big\ndrop src net @big and tcp dst port 22\n", file: "big.conf")
        XCTAssertEqual(ruleset.rules.map(\.lookupMatches.count), [unique.count, unique.count])
        XCTAssertEqual(ruleset.lookupTables(for: XDPHook()).first { $0.name == "lookup.address.v4.src" }?.entries.count, unique.count)
        print("parsed and merged \(unique.count) set entries in \(ContinuousClock.now - start)")
        XCTAssertThrowsError(try Ruleset.parse(sets + "drop tcp and src net @big\n", file: "big.conf")) {
            XCTAssert(($0 as? RulesetError)?.description.contains("big.conf:2:14: the set 'big' has \(unique.count) entries, too many to write out") ?? false, "\($0)")
        }
    }
}
