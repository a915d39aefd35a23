import XCTest
import DifferentialTesting
import Kernel
import EBPF
import Ruleset

/// A set of 100,000 prefixes in the kernel: every sampled packet's verdict and deciding rule
/// equal a direct first-match reference computed here (prefix membership per length).
///
/// libpcap cannot be the oracle at this size: compiling the written-out 100,000-term `or`
/// takes it minutes and its program would exceed classic BPF's limits. So the reference is
/// checked against libpcap first, on the same rules with small sets and the same kinds of
/// packets, and then used at full size.
final class LargeSetKernelTests: XCTestCase {
    /// Sets of random prefixes and the packets that hit them.
    struct Workload {
        var random: SeededRandom
        var allow: [(UInt32, Int)] = []   // IPv4 (address, length)
        var big: [(UInt32, Int)] = []
        var big6: [([UInt8], Int)] = []   // IPv6 (address, length > 96)
        let web: [UInt16] = [22, 443]

        init(seed: UInt64, allow: Int, big: Int, big6: Int) {
            random = SeededRandom(seed: seed)
            var seen = Set<String>()
            func prefix(_ lengths: [Int]) -> (UInt32, Int) {
                while true {
                    let length = lengths[random.next(lengths.count)]
                    let address = UInt32(truncatingIfNeeded: random.next()) & (length == 0 ? 0 : UInt32.max << UInt32(32 - length))
                    if seen.insert("\(address)/\(length)").inserted { return (address, length) }
                }
            }
            self.allow = (0..<allow).map { _ in prefix([16, 24, 32]) }
            self.big = (0..<big).map { _ in prefix([8, 12, 16, 20, 22, 24, 24, 24, 28, 32]) }
            self.big6 = (0..<big6).map { _ in
                ([0x20, 0x01, 0x0d, 0xb8] + (0..<10).map { _ in UInt8(random.next(256)) } + [0, 0], [112, 120, 128][random.next(3)])
            }.map { address, length in
                var masked = address
                for bit in length..<128 { masked[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
                return (masked, length)
            }
        }

        static func text(_ address: UInt32, _ length: Int) -> String {
            "\(address >> 24).\(address >> 16 & 255).\(address >> 8 & 255).\(address & 255)/\(length)"
        }
        static func text6(_ bytes: [UInt8], _ length: Int) -> String {
            stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":") + "/\(length)"
        }

        var rulesText: String {
            "set allow { \(allow.map { Self.text($0.0, $0.1) }.joined(separator: ", ")) }\n"
                + "set web { \(web.map(String.init).joined(separator: ", ")) }\n"
                + "set big { \(big.map { Self.text($0.0, $0.1) }.joined(separator: ", ")) }\n"
                + "set big6 { \(big6.map { Self.text6($0.0, $0.1) }.joined(separator: ", ")) }\n"
                + "pass src net @allow and tcp dst port @web\ndrop src net @big\ndrop dst net @big6\n"
        }

        /// The rules written out, for libpcap (small sets only).
        var writtenOut: [(expression: String, verdict: Verdict)] {
            [("(src net \(allow.map { Self.text($0.0, $0.1) }.joined(separator: " or "))) and (tcp dst port \(web.map(String.init).joined(separator: " or ")))", .pass),
             ("(src net \(big.map { Self.text($0.0, $0.1) }.joined(separator: " or ")))", .drop),
             ("(dst net \(big6.map { Self.text6($0.0, $0.1) }.joined(separator: " or ")))", .drop)]
        }

        /// The reference: the first rule whose set holds a prefix of the packet's address.
        struct Reference {
            var allow: [Int: Set<UInt32>] = [:], big: [Int: Set<UInt32>] = [:], big6: [Int: Set<[UInt8]>] = [:]
            let web: Set<UInt16>

            init(_ workload: Workload) {
                for (address, length) in workload.allow { allow[length, default: []].insert(address) }
                for (address, length) in workload.big { big[length, default: []].insert(address) }
                for (address, length) in workload.big6 { big6[length, default: []].insert(address) }
                web = Set(workload.web)
            }

            static func contains(_ table: [Int: Set<UInt32>], _ address: UInt32) -> Bool {
                table.contains { length, prefixes in prefixes.contains(address & (length == 0 ? 0 : UInt32.max << UInt32(32 - length))) }
            }

            /// Slot of the deciding rule (0: the policy) for the well-formed packets `packets` builds.
            func slot(_ packet: [UInt8]) -> Int {
                let type = UInt16(packet[12]) << 8 | UInt16(packet[13])
                if type == 0x0800 {
                    let source = packet[26..<30].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    let port = UInt16(packet[36]) << 8 | UInt16(packet[37])
                    if packet[23] == 6, web.contains(port), Self.contains(allow, source) { return 1 }
                    if Self.contains(big, source) { return 2 }
                    return 0
                }
                let destination = Array(packet[38..<54])
                for (length, prefixes) in big6 {
                    var masked = destination
                    for bit in length..<128 { masked[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
                    if prefixes.contains(masked) { return 3 }
                }
                return 0
            }
        }

        /// IPv4 TCP/UDP from inside the sets' prefixes (random host bits) or anywhere, and IPv6
        /// to inside `big6` or near it.
        mutating func packets(count: Int) -> [[UInt8]] {
            (0..<count).map { index in
                let tcp = random.next(3) != 0
                let port = [22, 443, 80, 53][random.next(4)]
                let transport = tcp ? PacketBuilder.tcp(source: 1234, destination: UInt16(port)) : PacketBuilder.udp(source: 1234, destination: UInt16(port))
                if index % 5 == 4 {
                    var destination = big6[random.next(big6.count)].0
                    destination[15] = UInt8(random.next(256)); if random.next(4) == 0 { destination[13] ^= 1 }
                    return PacketBuilder.ethernet(type: 0x86dd, PacketBuilder.ipv6(destination: destination, nextHeader: tcp ? 6 : 17, transport))
                }
                let base: (UInt32, Int)
                switch random.next(4) {
                case 0: base = allow[random.next(allow.count)]
                case 1, 2: base = big[random.next(big.count)]
                default: base = (UInt32(truncatingIfNeeded: random.next()), 0)
                }
                let host = base.1 == 32 ? 0 : UInt32(truncatingIfNeeded: random.next()) & (UInt32.max >> UInt32(base.1))
                let source = base.0 | host
                let bytes = [UInt8(source >> 24), UInt8(source >> 16 & 255), UInt8(source >> 8 & 255), UInt8(source & 255)]
                return PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(source: bytes, protocol: tcp ? 6 : 17, transport))
            }
        }
    }

    /// The reference decides as libpcap's first match over the written-out rules (small sets).
    func testTheReferenceDecidesAsLibpcap() throws {
        var workload = Workload(seed: 5, allow: 40, big: 300, big6: 20)
        let oracle = try LibpcapRuleset(workload.writtenOut)
        let reference = Workload.Reference(workload)
        let packets = workload.packets(count: 3000)
        let wrong = packets.indices.filter { oracle.slot(for: packets[$0]) != reference.slot(packets[$0]) }
        XCTAssertEqual(wrong.prefix(5).map { "packet \($0): libpcap \(oracle.slot(for: packets[$0])), reference \(reference.slot(packets[$0]))" }, [])
        XCTAssertEqual(Set(packets.map(reference.slot)).count, 4, "the packets reach every rule and the policy")
    }

    func testAHundredThousandPrefixSetDecidesAsTheReference() throws {
        try XCTSkipUnless(KernelSupport.isRoot, "loading programs and maps and BPF_PROG_TEST_RUN need root (CAP_BPF)")
        var workload = Workload(seed: 9, allow: 1000, big: 100_000, big6: 2000)
        let clock = ContinuousClock()
        let start = clock.now
        let ruleset = try Ruleset.parse(workload.rulesText, file: "big.conf")
        let parsed = clock.now
        let reference = Workload.Reference(workload)
        let packets = workload.packets(count: 4000)
        let expectedSlots = packets.map(reference.slot)
        XCTAssertEqual(Set(expectedSlots).count, 4, "the packets reach every rule and the policy")
        for hook in KernelDifferentialTests.hooks {
            let before = clock.now
            let tables = ruleset.lookupTables(for: hook.context)
            let loaded = try LoadedRulesetProgram.load(try ruleset.ebpfProgram(for: hook.context), type: hook.type, name: "xdpfw_bigset",
                                                       counterMap: MapName.counters, counterSlots: ruleset.counterSlots, lookupTables: tables,
                                                       xdpFragments: hook.xdpFragments)
            defer { loaded.close() }
            print("\(hook.name): parse \(parsed - start), tables + load \(clock.now - before), \(tables.map { "\($0.name) \($0.entries.count)" })")
            XCTAssertEqual(tables.first { $0.name.text == "lookup.address.v4.src" }?.isHash, false, "prefixes of many lengths are in a trie")
            var wrong: [String] = []
            var expected = [[UInt64]](repeating: [0, 0], count: ruleset.counterSlots)
            for (index, packet) in packets.enumerated() {
                let result = try loaded.program.testRun(packet: packet)
                let slot = expectedSlots[index]
                expected[slot][0] += 1
                expected[slot][1] += UInt64(packet.count)
                let verdict: Verdict = slot == 0 || slot == 1 ? .pass : .drop
                if result.returnValue != UInt32(bitPattern: hook.context.returnCode(for: verdict)), wrong.count < 5 {
                    wrong.append("packet \(index) (\(VerdictComparison.hexDump(packet, limit: 60))): reference slot \(slot), program returned \(result.returnValue)")
                }
            }
            XCTAssertEqual(wrong, [], hook.name)
            XCTAssertEqual(try LibpcapRuleset.counters(loaded.counters, slots: ruleset.counterSlots), expected, "\(hook.name): counters per rule")
        }
    }
}
