import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

/// Port rules (`[tcp|udp|sctp] [src|dst] port N`) merged into one hash lookup, against
/// libpcap's first match: random rulesets of mixed protocols, directions and verdicts, alone
/// and between address rules, on frames of every transport, fragments, IPv6 with and without
/// an extension header, and truncations through the ports.
final class PortMergingKernelTests: XCTestCase {
    func testPortRunsDecideAndCountAsLibpcapFirstMatch() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = MergeableRulesets(seed: 31)
        let sizes: [(MergeableRulesets.Family, Int)] = [
            (.port, 1), (.port, 10), (.port, 100), (.port, 1000), (.portsAndAddresses, 30), (.portsAndAddresses, 300),
        ]
        var kinds = Set<String>()
        for (family, count) in sizes {
            let rules = workload.rules(family, count: count)
            let ruleset = try Ruleset.parse(rules.map { "\($0.verdict.rawValue) \($0.expression)\n" }.joined(), file: "ports.conf")
            XCTAssert(ruleset.segments(minimumRun: 1).contains { segment in
                if case let .lookup(group) = segment { return group.kind == .port } else { return false }
            }, "\(family) × \(count): some port rules merge")
            // Few port groups: an array indexed by port; many (each its own blocks): a hash map.
            let ports = ruleset.lookupTables(for: XDPHook(), minimumRun: 1).first { $0.name == LookupGroup.portTableName }
            kinds.insert(ports?.arrayLength == nil ? "hash" : "array")
            try compareFirstMatch(rules, packets: workload.portPackets(count: 300), policy: count % 2 == 0 ? .pass : .drop,
                                  label: "\(family.rawValue) × \(count)")
        }
        XCTAssertEqual(kinds, ["array", "hash"], "both kinds of port table ran")
    }

    /// The forms libpcap means differently: `port N` is tcp, udp or sctp; `src or dst` either;
    /// duplicate keys with other verdicts (the first decides); a port set.
    func testPortFormsAndSets() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = MergeableRulesets(seed: 32)
        let rules: [(expression: String, verdict: Verdict)] = [
            ("tcp dst port 22", .drop), ("port 53", .pass), ("udp src port 53", .drop), ("sctp port 80", .drop),
            ("tcp src or dst port 443", .pass), ("dst port 22", .pass), ("tcp dst port 22", .pass), ("port 8080 or 80", .drop),
            ("udp port 443 or 22", .pass),
        ]
        try compareFirstMatch(rules, packets: workload.portPackets(count: 400), policy: .pass, label: "port forms")
        let text = "set web { 80, 443, 8080 }\nset dns { 53 }\npass tcp dst port @web\ndrop port @dns\ndrop udp src port @web\n"
        let written: [(expression: String, verdict: Verdict)] = [
            ("tcp dst port 80 or 443 or 8080", .pass), ("port 53", .drop), ("udp src port 80 or 443 or 8080", .drop),
        ]
        let ruleset = try Ruleset.parse(text, file: "sets.conf")
        XCTAssertEqual(ruleset.segments().count, 1, "the port-set rules are one lookup")
        XCTAssertEqual(ruleset.lookupTables(for: XDPHook()).first?.arrayLength, 6 * LookupGroup.portBlockSize,
                       "an array of six blocks: both sides of tcp, udp and sctp (`port @dns`), which the others share")
        try compareFirstMatch(written, packets: workload.portPackets(count: 400), policy: .pass, label: "port sets", text: text)
    }
}
