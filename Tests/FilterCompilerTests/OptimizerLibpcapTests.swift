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
        var longer: [String] = []
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 2 else { continue }
            let expression = String(fields[1])
            guard let plain = run(tcpdump, ["-O", "-ddd", expression]).flatMap(OptimizerLifting.program),
                  let theirs = run(tcpdump, ["-ddd", expression]) else { continue }
            guard let theirProgram = OptimizerLifting.program(theirs) else { continue }
            let started = Date()
            let ours = Optimizer.optimize(plain)
            XCTAssertLessThan(Date().timeIntervalSince(started), 1, "optimizing \(expression) is slow")
            compared += 1
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
        print("optimizer: \(sameGraph) expressions optimize to the same graph as libpcap's")
        for entry in longer { print("  longer: \(entry)") }
        for entry in differentGraph { print("  different graph: \(entry)") }
        XCTAssertGreaterThan(compared, 300)
        XCTAssertGreaterThanOrEqual(percent, 50)
    }

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
