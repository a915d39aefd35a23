import ClassicBPF
import DifferentialTesting
import FilterCompiler
import Foundation
import Kernel
import XCTest

/// Our optimizer against libpcap's, on libpcap's own unoptimized programs: lift
/// `pcap_compile(optimize=0)` into blocks, optimize, lay out, and compare with
/// `pcap_compile(optimize=1)` — the same verdicts from libpcap's `bpf_filter` on the corpus
/// captures (whole and cut short), never longer, and ideally the same text.
final class OptimizerLibpcapTests: XCTestCase {
    struct Comparison {
        var expression: String
        var ours: [ClassicInstruction]
        var theirs: [ClassicInstruction]
    }

    func testCorpusExpressionsAgainstLibpcapOptimizer() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let summary = compareWithLibpcap(Corpus.acceptedExpressions.map(\.text) + Self.moreExpressions)
        XCTAssertGreaterThan(summary.compared, 400)
        XCTAssertGreaterThanOrEqual(summary.notLonger, 99.5)
        XCTAssertGreaterThanOrEqual(summary.identical, 99)
    }

    /// Random `and`/`or`/`not` combinations of common primitives: libpcap's optimizer has more
    /// to do on these than on the corpus's single primitives.
    func testRandomCombinationsAgainstLibpcapOptimizer() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let primitives = [
            "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "vlan", "port 80", "tcp port 443", "udp port 53",
            "host 10.0.0.1", "src host 10.0.0.2", "dst net 192.168.0.0/16", "ip6 host ::1", "portrange 1000-2000",
            "tcp[tcpflags] & tcp-syn != 0", "ip[8] < 64", "len > 100", "ether multicast", "ip proto 47",
            "ether src 0:1:2:3:4:5", "icmp[icmptype] = icmp-echo", "ip[6:2] & 0x1fff = 0", "udp[8:2] = 0x1234",
            "ip broadcast", "src port 22", "dst port 8080", "sctp", "mpls", "ip6 proto 17",
        ]
        let environment = ProcessInfo.processInfo.environment
        var random = SplitMix(seed: environment["OPTIMIZER_SEED"].flatMap { UInt64($0) } ?? 0xf17e)
        func expression(_ depth: Int) -> String {
            let pick = primitives[Int(random.next() % UInt64(primitives.count))]
            guard depth > 0, random.next() % 3 != 0 else { return random.next() % 6 == 0 ? "not " + pick : pick }
            let left = expression(depth - 1), right = expression(depth - 1)
            let joined = "(\(left)) \(random.next() % 2 == 0 ? "and" : "or") (\(right))"
            return random.next() % 8 == 0 ? "not (\(joined))" : joined
        }
        var expressions = (0..<(environment["OPTIMIZER_COUNT"].flatMap { Int($0) } ?? 250)).map { _ in expression(3) }
        if let chosen = environment["OPTIMIZER_EXPRESSIONS"] {
            expressions = chosen.split(separator: ";").map(String.init)
        }
        let summary = compareWithLibpcap(expressions)
        XCTAssertGreaterThan(summary.compared, 150)
        XCTAssertGreaterThanOrEqual(summary.notLonger, 99)
        XCTAssertGreaterThanOrEqual(summary.identical, 97)
    }

    /// Block visits (pass runs × graph size) allowed per block of the unoptimized program: a
    /// bound on the optimizer's work that does not depend on how busy the machine is. Measured
    /// 2026-12-04: at most 37 on the corpus, 81 on the random combinations, 39 on random cyclic
    /// graphs; a stage that ran to `Optimizer.roundLimit` would make several hundred.
    static let workPerBlock = 150

    struct Summary {
        var compared: Int
        var notLonger: Double
        var identical: Double
    }

    /// Optimizes libpcap's unoptimized program for each expression and compares with libpcap's
    /// optimized one: verdicts (a failure on any difference), length and text (reported).
    func compareWithLibpcap(_ expressions: [String], file: StaticString = #filePath, line: UInt = #line) -> Summary {
        let packets = Self.packets()
        var comparisons: [Comparison] = []
        var optimizing: TimeInterval = 0
        var mostWork = 0.0
        for expression in expressions {
            guard case let .success(plain) = Libpcap.compile(expression, optimize: false),
                  case let .success(theirs) = Libpcap.compile(expression, optimize: true),
                  let lifted = ClassicLifter.lift(plain) else { continue }
            let started = Date()
            var work = OptimizerWork()
            guard let optimized = try? Optimizer.optimize(lifted, work: &work) else {
                XCTFail("'\(expression)': our optimizer refuses what libpcap's compiles", file: file, line: line)
                continue
            }
            optimizing += Date().timeIntervalSince(started)
            mostWork = max(mostWork, Double(work.blockVisits) / Double(lifted.blocks.count))
            XCTAssertFalse(work.reachedRoundLimit, "optimizing \(expression) did not settle", file: file, line: line)
            XCTAssertLessThanOrEqual(work.blockVisits, Self.workPerBlock * lifted.blocks.count,
                                     "optimizing \(expression) walked its blocks too often", file: file, line: line)
            let ours = ClassicCodeGenerator.generate(optimized)
            if ProcessInfo.processInfo.environment["OPTIMIZER_SHOW"] == expression {
                print(ClassicPrinter.format(ours, as: .assembly))
            }
            comparisons.append(Comparison(expression: expression, ours: ours, theirs: theirs))
            // The same instructions give the same verdicts; only the others need running.
            for (packet, wireLength) in packets where ours != theirs {
                let expected = Libpcap.filter(theirs, packet: packet, wireLength: wireLength)
                let actual = Libpcap.filter(ours, packet: packet, wireLength: wireLength)
                if expected != actual {
                    XCTFail("""
                        '\(expression)': \(actual) where libpcap's optimized program says \(expected) on \(packet.count) \
                        bytes (wire \(wireLength)) \(packet.prefix(64))
                        ours:
                        \(ClassicPrinter.format(ours, as: .assembly))libpcap:
                        \(ClassicPrinter.format(theirs, as: .assembly))
                        """, file: file, line: line)
                    break
                }
            }
        }
        let longer = comparisons.filter { $0.ours.count > $0.theirs.count }
        let different = comparisons.filter { ClassicPrinter.format($0.ours, as: .assembly) != ClassicPrinter.format($0.theirs, as: .assembly) }
        let sameInstructions = comparisons.filter { $0.ours == $0.theirs }.count
        let count = Double(max(comparisons.count, 1))
        let summary = Summary(compared: comparisons.count, notLonger: 100 * (count - Double(longer.count)) / count,
                              identical: 100 * (count - Double(different.count)) / count)
        print("optimizer: \(comparisons.count) expressions against libpcap's optimizer on \(packets.count) packets, \(Int(optimizing * 1000)) ms optimizing, at most \(Int(mostWork)) block visits per block")
        print(String(format: "optimizer: %.1f%% no longer than libpcap, %.1f%% identical -d text, %d of them identical instructions",
                     summary.notLonger, summary.identical, sameInstructions))
        for comparison in longer { print("  longer: '\(comparison.expression)' \(comparison.ours.count) > \(comparison.theirs.count)") }
        for comparison in different where comparison.ours.count <= comparison.theirs.count {
            print("  different: '\(comparison.expression)' \(comparison.ours.count) vs \(comparison.theirs.count)")
        }
        return summary
    }

    /// The corpus packets as captured, and a sample of them cut short at header boundaries
    /// (wire length = captured length, as the XDP/TC hooks see them).
    static func packets() -> [([UInt8], UInt32)] {
        let captured = Corpus.captures.packets.map(\.packet)
        var result = captured.map { ($0.bytes, $0.wireLength) }
        for (index, packet) in captured.enumerated() where index % 20 == 0 {
            result.append((packet.bytes, UInt32(packet.bytes.count)))
            for cut in [0, 10, 14, 18, 20, 24, 34, 38, 40, 54, 58, 60] where cut < packet.bytes.count {
                result.append((Array(packet.bytes.prefix(cut)), UInt32(cut)))
            }
        }
        return result
    }

    static let moreExpressions = [
        "tcp port 80", "tcp port 80 or tcp port 443", "port 53 and not host 10.0.0.1", "host 1.2.3.4 and port 22",
        "net 10.0.0.0/8 and not net 10.1.0.0/16", "src net 192.168.0.0/16 or dst net 172.16.0.0/12",
        "ip and (tcp or udp)", "ip6 and (tcp or udp)", "tcp or udp or icmp", "not ip and not ip6 and not arp",
        "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", "tcp[13] & 3 = 0",
        "icmp[icmptype] = icmp-echo", "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
        "ip[2:2] & 3 = 1", "ip[0] & 0xf > 5", "ip[6:2] & 0x1fff = 0", "len > 100", "len <= 64 and udp",
        "greater 100", "less 60", "ip[0] = ip[1]", "ip[0] > ip[1] or ip[2] < ip[3]", "ip[0] + 1 = 5",
        "ip[0] * 2 - 3 / 1 = 7", "ip[1] % 3 = 1", "ip[0] ^ 5 = 1", "ip[0] << 2 = 8", "ip[0] >> 1 = 2", "-ip[0] = 4",
        "tcp[0:2] > 1023 and tcp[2:2] < 1024", "udp[8] = 1 and udp[9] = 2", "ip6[6] = 17", "ip6[40] = 1 and tcp",
        "vlan and ip", "vlan 100 and tcp port 80", "vlan and vlan and udp", "mpls and ip", "pppoes and ip",
        "pppoes 3 and udp port 53", "ether broadcast", "ether multicast", "ip broadcast", "ip multicast",
        "ip6 multicast", "ether src 1:2:3:4:5:6 and ip", "arp or rarp", "ip proto 47 or ip6 proto 47",
        "ip6 protochain 6", "ip protochain 17", "protochain 6 and port 80", "tcp src port 1024 and tcp dst port 80",
        "portrange 1000-2000 and not port 1500", "udp and (port 67 or port 68)", "inbound", "outbound",
        "ifindex 3", "ip and ip[8] < 5 and (tcp or icmp)", "not tcp", "not (tcp and port 80)",
        "(tcp port 80 or udp port 53) and not host 8.8.8.8", "ip host 1.1.1.1 or ip6 host ::1",
        "ether proto 0x88cc or ether proto 0x8100", "udp port 4789 and udp[8] & 8 != 0", "vxlan", "vxlan 5",
        "tcp[20] = 0x16 and tcp[25] = 1", "ip[9] = 6 and ip[6:2] & 0x1fff = 0 and tcp[13] = 2",
        "icmp6 and ip6[40] = 135", "icmp6[icmp6type] = icmp6-echo", "len >= 40 and len <= 1500",
        "ether[0] & 1 = 0 and ip", "link[12:2] = 0x800 and ip[9] = 1", "tcp and (tcp[tcpflags] & tcp-fin != 0 or tcp[tcpflags] & tcp-rst != 0)",
        "sctp or dccp", "ah or esp", "igmp or pim", "ip and not (src net 10.0.0.0/8 or dst net 10.0.0.0/8)",
        (1...40).map { "host 10.0.0.\($0)" }.joined(separator: " or "),
        (1...40).map { "tcp dst port \($0)" }.joined(separator: " or "),
        (1...30).map { "not port \($0)" }.joined(separator: " and "),
        "ip[100] & 0 = 0", "ether[100] = 1 or not ether[100] = 1", "ip or ether[100] * 0 = 0",
        "udp[len - 1] = 0", "port 80 or port 443", "host 1.2.3.4 or host 5.6.7.8", "src host 1.2.3.4 or dst host 5.6.7.8",
        "tcp dst port 22 or tcp dst port 80 or tcp dst port 443", "udp port 53 or udp port 123", "port 53 or port 123 or port 67",
        "net 10.0.0.0/8 or net 192.168.0.0/16", "tcp and (port 22 or port 80)", "(tcp or udp) and port 53",
        "ip6 and tcp port 80", "icmp or icmp6", "arp or icmp", "tcp dst portrange 8000-9000 or udp dst port 514", "tcp and ip[9] = 6", "ip[9] = 6 and tcp", "ip[9] = 6 and ip[9] = 6",
        "ip[6:2] & 0x1fff = 0 and ip[6:2] & 0x1fff = 0", "ip[9] - 6 = 0 and ip[9] = 6", "ip and ip[9] = 17 and udp",
        "tcp[13] & 2 != 0 and tcp[13] & 2 != 0", "tcp[tcpflags] & tcp-syn != 0 and tcp[13] & 2 = 2", "ip[0] - 3 - 7 = 0", "ip[0] + 1 + 2 = 5", "ip[0] - 3 > 7", "ip[0] * 2 + 3 = 7",
        "ip[0] & 3 & 5 = 1", "ip[0] - ip[1] = 0", "ip[0] - ip[1] = 3", "ip[0] & ip[1] = 0", "ip[0] | 1 = 1", "tcp[tcp[12] >> 4] = 1", "ip[ip[0] & 0xf] = 4", "ether[len - 4:4] = 0",
    ]
}
