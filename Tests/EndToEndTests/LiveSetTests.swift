import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset
import Firewall

/// `xdpfw set add|del` on rules applied to a veth pair, at XDP and TC ingress: after every
/// change the pinned program (run with BPF_PROG_TEST_RUN, no reload) decides every packet as
/// libpcap's first match over the rules with the sets written out with their new entries, and
/// the counters keep counting from where they were. Refused changes change nothing.
final class LiveSetTests: XCTestCase {
    struct Sets { var allow, bl, bl6, web, other: [String] }

    static func rulesText(_ sets: Sets) -> String {
        """
        policy pass
        set allow { \(sets.allow.joined(separator: ", ")) }
        set bl {
          \(sets.bl.joined(separator: ",\n  "))
        }
        set bl6 { \(sets.bl6.joined(separator: " ")) }
        set web { \(sets.web.joined(separator: ", ")) }
        set other { \(sets.other.joined(separator: ", ")) }
        pass src net @allow and tcp dst port @web
        drop src net @bl
        drop dst host @bl6
        pass udp port 53
        drop tcp dst port @other

        """
    }

    /// The rules as libpcap reads them: each `QUALIFIERS @NAME` written out as an `or`.
    static func writtenOut(_ sets: Sets) -> [(expression: String, verdict: Verdict)] {
        [("(src net \(sets.allow.joined(separator: " or "))) and (tcp dst port \(sets.web.joined(separator: " or ")))", .pass),
         ("(src net \(sets.bl.joined(separator: " or ")))", .drop),
         ("(dst host \(sets.bl6.joined(separator: " or ")))", .drop),
         ("udp port 53", .pass),
         ("(tcp dst port \(sets.other.joined(separator: " or ")))", .drop)]
    }

    static func packets() -> [[UInt8]] {
        let v4: [[UInt8]] = [[10, 0, 0, 5], [10, 1, 0, 9], [10, 1, 2, 3], [10, 2, 0, 1], [192, 0, 2, 7], [192, 0, 2, 8],
                             [203, 0, 113, 9], [198, 51, 100, 4], [172, 16, 5, 5], [172, 16, 9, 9], [172, 31, 0, 1]]
        let v6: [[UInt8]] = [1, 2, 3].map { PacketBuilder.ipv6A.dropLast() + [$0] }
            + [[0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad] + [UInt8](repeating: 0, count: 9) + [5]]
        return packets(seed: 44, sources: v4, destinations: v4, ipv6: v6, ports: [22, 80, 443, 53, 8080, 9090])
    }

    /// 400 TCP and UDP frames between addresses of the pools (every 4th IPv6 when there is an
    /// IPv6 pool), to the ports, and the first frame's truncations.
    static func packets(seed: UInt64, sources: [[UInt8]], destinations: [[UInt8]], ipv6 v6: [[UInt8]], ports: [UInt16]) -> [[UInt8]] {
        var random = SeededRandom(seed: seed)
        let v4 = sources
        var frames: [[UInt8]] = []
        for index in 0..<400 {
            let tcp = random.next(2) == 0
            let port = ports[random.next(ports.count)]
            let transport = tcp ? PacketBuilder.tcp(source: 40000, destination: port) : PacketBuilder.udp(source: 40000, destination: port)
            if index % 4 == 3 && !v6.isEmpty {
                frames.append(PacketBuilder.ethernet(type: 0x86dd, PacketBuilder.ipv6(source: v6[random.next(v6.count)], destination: v6[random.next(v6.count)],
                                                                                      nextHeader: tcp ? 6 : 17, transport)))
            } else {
                frames.append(PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(source: v4[random.next(v4.count)], destination: destinations[random.next(destinations.count)],
                                                                                      protocol: tcp ? 6 : 17, transport)))
            }
        }
        // Truncated frames: a load past the end is no match.
        return frames + (14..<frames[0].count).map { Array(frames[0].prefix($0)) }
    }

    /// `set NAME file PATH` with a relative PATH is read beside the rules file, by `apply` as by
    /// `check`, wherever xdpfw runs from.
    func testApplyReadsRelativeSetFilesBesideTheRulesFile() throws {
        try EndToEnd.requireRoot()
        let network = try TestNetwork()
        defer { network.close() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-setfile-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "10.0.0.0/8\n192.0.2.7\n".write(to: directory.appendingPathComponent("bl.txt"), atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("rules.conf")
        try "set bl file bl.txt\ndrop src net @bl\n".write(to: file, atomically: true, encoding: .utf8)
        let namespace = network.a.namespace, interface = network.a.interfaceName
        let elsewhere = URL(fileURLWithPath: "/")
        for verb in [["check", file.path], ["apply", file.path, interface]] {
            let run = try XCTUnwrap(ProcessRun.run(ProcessRun.builtXdpfw, ["-n", namespace] + verb, directory: elsewhere, timeout: 120))
            XCTAssertEqual(run.status, 0, "\(verb[0]): \(run.standardError)")
        }
        defer { _ = try? Xdpfw.run(["-n", namespace, "detach", interface]) }
        let listed = try Xdpfw.run(["-n", namespace, "set", "list", interface, "bl"])
        XCTAssertEqual(listed.status, 0, listed.standardError)
        XCTAssert(listed.standardOutput.contains("10.0.0.0/8") && listed.standardOutput.contains("192.0.2.7"), listed.standardOutput)
    }

    func testSetChangesDecideAsLibpcapWithTheNewEntriesAndKeepCounters() throws {
        try EndToEnd.requireRoot()
        // Quiet: no neighbour discovery or MLD frames of the namespaces' own reach the counters.
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        let network = quiet.network
        let namespace = network.a.namespace, interface = network.a.interfaceName
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-sets-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("sets.conf")
        // bl has four prefix lengths: a trie; allow (with the port) and bl6 few: hash maps per length.
        var sets = Sets(allow: ["10.1.0.0/16", "10.1.2.0/24"], bl: ["10.0.0.0/8", "192.0.2.7", "203.0.113.0/24", "198.18.0.0/15"],
                        bl6: ["2001:db8::1", "2001:db8::2"], web: ["22", "80"], other: ["8080"])
        try Self.rulesText(sets).write(to: file, atomically: true, encoding: .utf8)
        let hooks: [(name: String, attach: Hook, context: any HookContext)] = [("xdp", .xdp, XDPHook()), ("tc-ingress", .tcIngress, TCHook())]
        for hook in hooks {
            let applied = try Xdpfw.run(["-n", namespace, "apply", file.path, interface, "--hook", hook.name])
            XCTAssertEqual(applied.status, 0, applied.standardError)
        }
        defer { for hook in hooks { _ = try? Xdpfw.run(["-n", namespace, "detach", interface, "--hook", hook.name]) } }
        let root = PinDirectory.root(forNamespace: namespace)
        let packets = Self.packets()
        var expected = [String: [[UInt64]]]()

        func check(_ label: String) throws {
            let oracle = try LibpcapRuleset(Self.writtenOut(sets))
            for hook in hooks {
                let installation = try XCTUnwrap(HookInstallation.find(interface: interface, hook: hook.attach, root: root))
                let program = try BPFProgram.fromPinned(installation.directory.path(of: PinDirectory.Entry.program))
                defer { program.close() }
                var counts = expected[hook.name] ?? [[UInt64]](repeating: [0, 0], count: 6)
                var wrong: [String] = []
                for (index, packet) in packets.enumerated() {
                    guard let result = try? program.testRun(packet: packet) else { continue }  // TC refuses some short frames
                    let slot = oracle.slot(for: packet)
                    counts[slot][0] += 1
                    counts[slot][1] += UInt64(packet.count)
                    let verdict = slot == 0 ? Verdict.pass : oracle.rules[slot - 1].verdict
                    if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)), wrong.count < 5 {
                        wrong.append("packet \(index): libpcap's first match is \(slot == 0 ? "the policy" : "rule \(slot)"), the program returned \(result.returnValue)")
                    }
                }
                XCTAssertEqual(wrong, [], "\(label), \(hook.name)")
                let map = try installation.map(.counters)
                defer { map.close() }
                XCTAssertEqual(try LibpcapRuleset.counters(map, slots: 6), counts, "\(label), \(hook.name): counters go on from where they were")
                expected[hook.name] = counts
                XCTAssertGreaterThanOrEqual(Set(packets.map(oracle.slot(for:))).count, 5, "\(label): the packets reach most rules")
                // One object per hook asked for, whatever else is attached.
                let listed = try Xdpfw.run(["-n", namespace, "set", "list", interface, "bl", "--hook", hook.name, "--json"])
                XCTAssertEqual(listed.status, 0, listed.standardError)
                XCTAssertEqual(listed.standardOutput, #"{"interface": "\#(interface)", "hook": "\#(hook.name)", "sets": [{"name": "bl", "entries": ["#
                               + sets.bl.map { "\"\($0)\"" }.joined(separator: ", ") + "]}]}\n", label)
            }
        }

        func change(_ arguments: [String], _ update: (inout Sets) -> Void) throws {
            let result = try Xdpfw.run(["-n", namespace, "set"] + arguments)
            guard result.status == 0 else { throw Xdpfw.Failure(description: "\(arguments): \(result.standardError)") }
            update(&sets)
            try check(arguments.joined(separator: " "))
        }

        func refused(_ arguments: [String], saying message: String) throws {
            let result = try Xdpfw.run(["-n", namespace, "set"] + arguments)
            XCTAssertEqual(result.status, 1, "\(arguments) is refused")
            XCTAssertTrue(result.standardError.contains(message), "\(arguments): \(result.standardError)")
            try check("after refused \(arguments.joined(separator: " "))")
        }

        try check("as applied")
        try change(["add", interface, "bl", "172.16.0.0/12", "10.1.2.3"]) { $0.bl += ["172.16.0.0/12", "10.1.2.3"] }
        // An address is its /32: adding it again changes nothing, removing it by either name removes it.
        let added = try Xdpfw.run(["-n", namespace, "set", "add", interface, "bl", "10.1.2.3/32", "198.51.100.0/24", "198.51.100.0/24"])
        XCTAssertEqual(added.status, 0, added.standardError)
        XCTAssertEqual(added.standardOutput, hooks.map { "\(interface) \($0.name) @bl: added 1 (1 already there: 10.1.2.3/32), 7 entries now\n" }.joined(),
                       "one line per hook")
        sets.bl.append("198.51.100.0/24")
        try check("add an address again as /32")
        try change(["del", interface, "bl", "10.1.2.3/32"]) { $0.bl.removeAll { $0 == "10.1.2.3" } }
        try change(["add", interface, "allow", "172.16.9.0/24"]) { $0.allow.append("172.16.9.0/24") }
        try change(["del", interface, "bl", "10.0.0.0/8"]) { $0.bl.removeAll { $0 == "10.0.0.0/8" } }
        try change(["add", interface, "web", "443"]) { $0.web.append("443") }
        try change(["add", interface, "bl6", "2001:db8:bad::5"]) { $0.bl6.append("2001:db8:bad::5") }
        try change(["add", interface, "bl", "2001:db8:bad::5"]) { $0.bl.append("2001:db8:bad::5") }
        try change(["del", interface, "allow", "10.1.0.0/16", "10.1.2.0/24"]) { $0.allow = ["172.16.9.0/24"] }
        // A port set (`drop tcp dst port @other`, in one hash lookup with `pass udp port 53`).
        try change(["add", interface, "other", "9090", "53"]) { $0.other += ["9090", "53"] }
        try change(["del", interface, "other", "8080"]) { $0.other.removeAll { $0 == "8080" } }
        try refused(["add", interface, "other", "70000"], saying: "'70000' cannot be in @other: rule 5 (line 16)")
        try refused(["add", interface, "bl", "10.0.0.300"], saying: "'10.0.0.300' cannot be in @bl")
        try refused(["add", interface, "web", "2001:db8::1"], saying: "cannot be in @web")
        try refused(["del", interface, "bl", "1.1.1.1"], saying: "'1.1.1.1' is not in @bl")
        try refused(["del", interface, "allow", "172.16.9.0/24"], saying: "empty")
        try refused(["add", interface, "nosuchset", "1.2.3.4"], saying: "no set 'nosuchset'")
        try refused(["add", interface, "allow", "10.3.0.0/20"], saying: "is a hash map per prefix length (/16, /24)")
        try refused(["add", interface, "bl", "10"], saying: "a bare network number ('net 10' in libpcap) is not a table lookup; write 10.0.0.0/8")
        try refused(["add", "nosuchif0", "bl", "10.0.0.0/8"], saying: "unknown interface 'nosuchif0'")
        let ambiguous = try Xdpfw.run(["-n", namespace, "set", "list", interface, "--json"])
        XCTAssertEqual(ambiguous.status, 2, "several hooks and no --hook: \(ambiguous.standardOutput)")
        XCTAssertTrue(ambiguous.standardError.contains("has xdpfw rules at xdp and tc-ingress: with --json, pick one with --hook xdp|tc-ingress"),
                      ambiguous.standardError)

        // A change written and undone (as when a later hook fails) leaves the tables and the
        // text as they were.
        for hook in hooks {
            let installation = try XCTUnwrap(HookInstallation.find(interface: interface, hook: hook.attach, root: root))
            let text = try XCTUnwrap(installation.rulesetText)
            let change = try LiveSetChange.plan(text: text, file: "sets.conf", set: "bl", adding: ["10.0.0.0/8", "10.1.0.0/17"],
                                                removing: [], pinnedEntries: installation.directory.entries, hook: hook.context)
            let write = try LiveSetWrite(installation, change, oldText: text)
            defer { write.close() }
            try write.write()
            write.undo()
            XCTAssertEqual(HookInstallation.find(interface: interface, hook: hook.attach, root: root)?.rulesetText, text)
        }
        try check("after a change undone")

        // `stats` still names the rules on their lines.
        let stats = try Xdpfw.run(["-n", namespace, "stats", interface, "--hook", "xdp", "--json"])
        XCTAssertTrue(stats.standardOutput.contains(#""rule": 2, "line": 13, "verdict": "drop", "expression": "src net @bl""#), stats.standardOutput)
    }
}
