import Foundation
import XCTest
@testable import FilterCompiler

/// Our optimizer against libpcap's, on libpcap's own unoptimized programs for the corpus
/// expressions: same verdicts on the corpus captures and built packets, and no longer.
final class OptimizerLibpcapTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/corpus")

    func testCorpusExpressionsAgainstLibpcapOptimizer() throws {
        let expressionsFile = Self.corpus.appendingPathComponent("filters/accept-en10mb.tsv")
        guard let table = try? String(contentsOf: expressionsFile, encoding: .utf8) else {
            throw XCTSkip("corpus not found at \(Self.corpus.path)")
        }
        guard let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("tcpdump is not installed")
        }
        let packets = try capturedPackets() + builtPackets()
        var compared = 0, notLonger = 0, sameLength = 0, accepted = 0, sameGraph = 0
        var differentGraph: [String] = []
        var optimizing: TimeInterval = 0
        var longer: [String] = []
        let corpusExpressions = table.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> String? in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count >= 2 ? String(fields[1]) : nil
        }
        for expression in corpusExpressions + Self.moreExpressions {
            guard let plain = run(tcpdump, ["-O", "-ddd", expression]).flatMap(OptimizerLifting.program),
                  let theirs = run(tcpdump, ["-ddd", expression]) else { continue }
            guard let theirProgram = OptimizerLifting.program(theirs) else { continue }
            let started = Date()
            let ours = Optimizer.optimize(plain)
            let seconds = Date().timeIntervalSince(started)
            optimizing += seconds
            XCTAssertLessThan(seconds, 1, "optimizing \(expression) is slow")
            compared += 1
            if ProcessInfo.processInfo.environment["OPTIMIZER_SHOW"] == expression { print(describe(ours)) }
            let ourLength = OptimizerLifting.length(ours)
            if ourLength <= theirs.count { notLonger += 1 } else { longer.append("\(expression): \(ourLength) > \(theirs.count)") }
            if ourLength == theirs.count { sameLength += 1 } else if ourLength < theirs.count { print("  shorter: \(expression): \(ourLength) < \(theirs.count)") }
            if OptimizerLifting.sameGraph(ours, theirProgram) { sameGraph += 1 } else { differentGraph.append(expression) }
            for packet in packets {
                let machine = OptimizerMachine(packet: packet, wireLength: UInt32(packet.count))
                let expected = machine.run(theirProgram).verdict, actual = machine.run(ours).verdict
                if expected != 0 { accepted += 1 }
                if expected != actual {
                    XCTFail("\(expression): \(actual) where libpcap's optimized program says \(expected) on \(packet.count) bytes \(packet.prefix(64))\n\(describe(ours))")
                    break
                }
            }
        }
        let percent = compared == 0 ? 0 : 100 * notLonger / compared
        print("optimizer: \(packets.count) packets, \(accepted) acceptances; \(compared) expressions, \(percent)% no longer than libpcap, \(sameLength) the same length")
        print("optimizer: \(Int(optimizing * 1000)) ms optimizing all")
        print("optimizer: \(sameGraph) expressions optimize to the same graph as libpcap's")
        for entry in longer { print("  longer: \(entry)") }
        for entry in differentGraph { print("  different graph: \(entry)") }
        XCTAssertGreaterThan(compared, 400)
        XCTAssertGreaterThanOrEqual(percent, 50)
    }

    /// Expressions beyond the corpus that combine protocols, so that tests repeat and the
    /// optimizer has work to do.
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
        "ip[100] & 0 = 0", "ether[100] = 1 or not ether[100] = 1", "ip or ether[100] * 0 = 0",
        "udp[len - 1] = 0", "ip[0] - 3 - 7 = 0", "ip[0] + 1 + 2 = 5", "ip[0] - 3 > 7", "ip[0] * 2 + 3 = 7",
        "ip[0] & 3 & 5 = 1", "ip[0] - ip[1] = 0", "ip[0] - ip[1] = 3", "ip[0] & ip[1] = 0", "ip[0] | 1 = 1", "tcp[tcp[12] >> 4] = 1", "ip[ip[0] & 0xf] = 4", "ether[len - 4:4] = 0",
    ]

    func run(_ tool: String, _ arguments: [String]) -> [OptimizerLifting.Instruction]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").dropFirst()
        return lines.compactMap { line in
            let numbers = line.split(separator: " ").compactMap { UInt32($0) }
            guard numbers.count == 4 else { return nil }
            return OptimizerLifting.Instruction(code: UInt16(numbers[0]), jt: UInt8(numbers[1]), jf: UInt8(numbers[2]), k: numbers[3])
        }
    }

    /// The captured bytes of every packet in the corpus captures (classic pcap files).
    func capturedPackets() throws -> [[UInt8]] {
        let folder = Self.corpus.appendingPathComponent("pcap")
        var packets: [[UInt8]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
            guard bytes.count >= 24 else { continue }
            let bigEndian = bytes[0] == 0xa1
            func word(_ at: Int) -> Int {
                let b = bytes[at..<at + 4].map(Int.init)
                return bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
            }
            var offset = 24
            while offset + 16 <= bytes.count {
                let captured = word(offset + 8)
                guard captured >= 0, offset + 16 + captured <= bytes.count else { break }
                packets.append(Array(bytes[(offset + 16)..<(offset + 16 + captured)]))
                offset += 16 + captured
            }
        }
        return packets
    }

    /// Every corpus packet cut short at a few lengths, so truncation is exercised everywhere.
    func builtPackets() throws -> [[UInt8]] {
        let samples = try capturedPackets().enumerated().filter { $0.offset % 25 == 0 }.map(\.element)
        return samples.flatMap { packet in [14, 20, 24, 34, 40, 54, 60].filter { $0 < packet.count }.map { Array(packet.prefix($0)) } }
    }

    func describe(_ program: FilterProgram) -> String {
        program.blocks.enumerated().map { "\($0.offset): \($0.element.statements) \($0.element.terminator)" }.joined(separator: "\n")
    }
}
