import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset
import Firewall

/// Sets among rules the packet classifier takes: a set lookup (`src net @bl and tcp dst port 22`)
/// stands between classified rules, a set test inside a classified conjunction
/// (`src net @ext and dst net P and udp`) is one of them, and a set inside a filter
/// (`src net @flt and len > 100`) comes last. `xdpfw set add|del` changes the lookup and the
/// classifier's set table in place; after every change the pinned program decides every packet
/// as libpcap's first match over the rules with the sets written out, and the classifier's rules
/// still decide theirs. A change the program cannot take in place (a set compiled into a filter,
/// an IPv6 /48 in a classifier's set) is refused, saying so, and nothing changes.
final class ClassifierSetTests: XCTestCase {
    static let flt = ["198.18.0.0/15"]

    static func rulesText(_ bl: [String], ext: [String]) -> String {
        "policy pass\nset bl { \(bl.joined(separator: ", ")) }\nset ext { \(ext.joined(separator: ", ")) }\n"
            + "set flt { \(flt.joined(separator: ", ")) }\n"
            + rules(bl, ext: ext).map { "\($0.verdict.rawValue) \($0.text)\n" }.joined()
    }

    /// The rules, as written (`text`) and as libpcap reads them (`expression`, the set written out).
    static func rules(_ bl: [String], ext: [String]) -> [(text: String, expression: String, verdict: Verdict)] {
        let set = "(src net \(bl.joined(separator: " or ")))", ext = "(src net \(ext.joined(separator: " or ")))"
        let flt = "(src net \(Self.flt.joined(separator: " or ")))"
        typealias Rule = (text: String, expression: String, verdict: Verdict)
        func plain(_ text: String, _ verdict: Verdict) -> Rule { (text, text, verdict) }
        // (Port ranges: a run of 20 `src net P and udp dst port 53` would be a lookup of its own.)
        var rules: [Rule] = (0..<20).map { plain("src net 10.1.\($0).0/24 and tcp dst portrange 1000-2000", .drop) }
        rules.append(("src net @ext and dst net 198.51.100.0/24 and udp", "\(ext) and dst net 198.51.100.0/24 and udp", .drop))
        rules += (0..<20).map { plain("src net 172.16.\($0).0/24 and udp dst portrange 53-54", .pass) }
        rules.append(("src net @bl and tcp dst port 22", "\(set) and tcp dst port 22", .drop))
        rules += (0..<20).map { plain("dst host 203.0.113.\($0 + 1) and tcp", .drop) }
        rules.append(("src net @flt and len > 100", "\(flt) and len > 100", .pass))
        // IPv6 from @ext: its IPv6 table is empty until `set add` brings an entry.
        rules.append(("src net @ext and udp dst portrange 53-54", "\(ext) and udp dst portrange 53-54", .drop))
        return rules
    }

    static func packets() -> [[UInt8]] {
        LiveSetTests.packets(seed: 45, sources: [[10, 1, 3, 9], [10, 1, 19, 1], [10, 9, 0, 1], [172, 16, 5, 5], [172, 16, 30, 1],
                                                 [192, 0, 2, 7], [192, 0, 2, 8], [198, 18, 0, 1]],
                             destinations: [[198, 51, 100, 4], [203, 0, 113, 1], [203, 0, 113, 20], [203, 0, 113, 40], [10, 1, 3, 9]],
                             ipv6: [Array(PacketBuilder.ipv6A.dropLast()) + [5], PacketBuilder.ipv6B], ports: [22, 53, 1500, 80, 2001])
    }

    func testSetChangesAmongClassifiedRulesDecideAsLibpcap() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let namespace = quiet.network.a.namespace, interface = quiet.network.a.interfaceName
        var bl = ["10.0.0.0/8", "192.0.2.7"], ext = ["192.0.2.0/24"]
        let placement = try Ruleset.parse(Self.rulesText(bl, ext: ext), file: "sets.conf").classifierPlacement
        XCTAssertEqual(placement.classifiedRules, 62, "the 60 rules without a set and rules 21 and 64 (@ext in a conjunction) go into the classifier, around the set lookup")
        try quiet.apply(Self.rulesText(bl, ext: ext), on: .a, hook: "xdp")
        let packets = Self.packets()

        var reachedLast = false
        func check(_ label: String) throws {
            let rules = Self.rules(bl, ext: ext)
            let oracle = try LibpcapRuleset(rules.map { ($0.expression, $0.verdict) })
            let installation = try XCTUnwrap(HookInstallation.find(interface: interface, hook: .xdp, root: PinDirectory.root(forNamespace: namespace)))
            let program = try BPFProgram.fromPinned(installation.directory.path(of: PinDirectory.Entry.program))
            defer { program.close() }
            var wrong: [String] = [], reached = Set<Int>()
            for (index, packet) in packets.enumerated() {
                let result = try program.testRun(packet: packet)
                let slot = oracle.slot(for: packet)
                reached.insert(slot)
                let verdict = slot == 0 ? Verdict.pass : rules[slot - 1].verdict
                if result.returnValue != UInt32(bitPattern: XDPHook().returnCode(for: verdict)), wrong.count < 5 {
                    wrong.append("packet \(index): libpcap's first match is \(slot == 0 ? "the policy" : "rule \(slot)"), the program returned \(result.returnValue)")
                }
            }
            XCTAssertEqual(wrong, [], label)
            reachedLast = reached.contains(64)
            XCTAssertTrue(reached.contains(21) && reached.contains(42), "\(label): both set rules decide packets: \(reached.sorted())")
            XCTAssertGreaterThanOrEqual(reached.filter { $0 != 21 && $0 != 42 && $0 != 0 }.count, 5, "\(label): classified rules decide packets")
        }

        try check("as applied")
        // @bl is a hash map per prefix length (/8, /32): changes keep to those lengths.
        for (arguments, update) in [(["add", "172.16.5.5"], { (bl: inout [String]) in bl.append("172.16.5.5") }),
                                    (["del", "10.0.0.0/8"], { $0.removeAll { $0 == "10.0.0.0/8" } }),
                                    (["add", "10.1.3.9", "198.0.0.0/8"], { $0 += ["10.1.3.9", "198.0.0.0/8"] })] {
            let result = try Xdpfw.run(["-n", namespace, "set", arguments[0], interface, "bl"] + arguments.dropFirst())
            XCTAssertEqual(result.status, 0, result.standardError)
            update(&bl)
            try check("set " + arguments.joined(separator: " "))
        }
        // @ext is a table of the classifier (a trie per family, the IPv6 one empty at first): entries come and go in place.
        for (arguments, update) in [(["add", "198.18.0.0/15", "10.1.19.1", "2001:db8::5"], { (ext: inout [String]) in ext += ["198.18.0.0/15", "10.1.19.1", "2001:db8::5"] }),
                                    (["del", "192.0.2.0/24"], { $0.removeAll { $0 == "192.0.2.0/24" } })] {
            let result = try Xdpfw.run(["-n", namespace, "set", arguments[0], interface, "ext"] + arguments.dropFirst())
            XCTAssertEqual(result.status, 0, result.standardError)
            update(&ext)
            try check("set " + arguments.joined(separator: " ") + " (ext)")
            if ext.contains("2001:db8::5") { XCTAssertTrue(reachedLast, "rule 64 decides IPv6 frames from the new entry") }
        }
        let refusedEntry = try Xdpfw.run(["-n", namespace, "set", "add", interface, "ext", "2001:db8::/48"])
        XCTAssertEqual(refusedEntry.status, 1)
        XCTAssertTrue(refusedEntry.standardError.contains("'2001:db8::/48' cannot be in @ext: rule 21 (line 25) "
                                                          + "'drop src net @ext and dst net 198.51.100.0/24 and udp' is in the packet classifier"),
                      refusedEntry.standardError)
        let refused = try Xdpfw.run(["-n", namespace, "set", "add", interface, "flt", "192.0.2.0/24"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("rule 63 (line 67) 'pass src net @flt and len > 100' uses @flt in a filter"),
                      refused.standardError)
        try check("after refused changes")
    }
}
