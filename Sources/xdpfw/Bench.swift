import ArgumentParser
import EBPF
import Kernel
import Ruleset

/// `xdpfw bench`: what a ruleset costs per packet, measured by the kernel's own test runs.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the nanoseconds a rules file costs per packet (BPF_PROG_TEST_RUN, baseline subtracted).",
        discussion: """
            Runs each packet --repeat times through the ruleset's program and through a program that \
            only returns, in the same kernel, and prints the difference: the cost of the rules \
            themselves. The packets are a built-in mix of ICMP, UDP and TCP frames, or those of \
            --pcap. With --json:

              {"ns_per_packet": 3.1, "baseline_ns": 21.0, "instructions": 57, "packets": 8, "repeat": 100000}

            Example:
              xdpfw bench rules.conf --hook tc --pcap capture.pcap
            """)

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Option(help: ArgumentHelp("The kind of program to measure.", valueName: "hook"))
    var hook: ProgramHook = .xdp

    @Option(help: ArgumentHelp("Measure with the packets of this capture file (at most 1000).", valueName: "capture.pcap"))
    var pcap: String?

    @Option(help: ArgumentHelp("Runs per packet and program.", valueName: "count"))
    var `repeat`: UInt32 = 100_000

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard (1...10_000_000).contains(self.repeat) else { throw ValidationError("--repeat must be between 1 and 10000000") }
    }

    func run() throws {
        let ruleset = try RulesInput.ruleset(at: rules)
        let packets = try benchPackets()
        let loaded = try LoadedRuleset.load(ruleset, hook: hook)
        defer { loaded.close() }
        let baseline = try loadBaseline()
        defer { baseline.close() }
        // Alternate the two programs per packet so drift in the machine's load hits both alike.
        var rulesNanoseconds = 0.0, baselineNanoseconds = 0.0
        for packet in packets {
            baselineNanoseconds += Double(try baseline.testRun(packet: packet, repeat: self.repeat).durationNanoseconds)
            rulesNanoseconds += Double(try loaded.program.testRun(packet: packet, repeat: self.repeat).durationNanoseconds)
        }
        let count = Double(packets.count)
        let perPacket = (rulesNanoseconds - baselineNanoseconds) / count
        let baselineMean = baselineNanoseconds / count
        if json {
            Output.standardOutput(JSON.object([
                ("ns_per_packet", .number((perPacket * 10).rounded() / 10)),
                ("baseline_ns", .number((baselineMean * 10).rounded() / 10)),
                ("instructions", .integer(Int64(loaded.instructionCount))),
                ("packets", .integer(Int64(packets.count))),
                ("repeat", .unsigned(UInt64(self.repeat))),
            ]).text + "\n")
        } else {
            let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
            Output.standardOutput("\(ruleset.file) at \(hook.rawValue): \(count), \(loaded.instructionCount) instructions\n"
                                  + "  \(Bench.format(perPacket)) ns per packet above a do-nothing program "
                                  + "(which takes \(Bench.format(baselineMean)) ns), "
                                  + "\(packets.count) packets × \(self.repeat) runs\n")
        }
    }

    private func benchPackets() throws -> [[UInt8]] {
        guard let pcap else {
            let traffic = DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                      sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2])
            return traffic.bursts().map(\.frame)
        }
        let capture: CaptureFile
        do { capture = try CaptureFile(path: pcap) } catch { throw CommandFailure(error.message) }
        let packets = capture.packets.map(\.bytes).filter { $0.count >= 14 }.prefix(1000)
        guard !packets.isEmpty else { throw CommandFailure("\(pcap): no packet of at least 14 bytes to measure with") }
        return Array(packets)
    }

    /// A program of the same kind that returns "pass" at once: what the hook costs by itself.
    private func loadBaseline() throws -> BPFProgram {
        let returnCode = hook.context.returnCode(for: .pass)
        let program = try Compile.assemble { () throws(AssemblerError) in
            var assembler = Assembler()
            assembler.move(.r0, returnCode)
            assembler.exit()
            return try assembler.assemble()
        }
        return try BPFProgram.load(type: hook.programType, instructions: program.encoded, name: "xdpfw_baseline")
    }

    static func format(_ nanoseconds: Double) -> String {
        let tenths = (nanoseconds * 10).rounded()
        return String(tenths / 10)
    }
}
