import ArgumentParser
import Kernel
import Ruleset

/// `xdpfw test`: the kernel's verdict for every packet of a capture file.
struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a rules file over a capture file in the kernel and print the verdict for each packet.",
        discussion: """
            Each packet is run through the program with BPF_PROG_TEST_RUN: the same program apply \
            attaches, in the same kernel, but attached to nothing. Frames shorter than an Ethernet \
            header (14 bytes) or longer than the kernel's test run takes (73,152 bytes at XDP, \
            where frames over 3,520 bytes run as multi-buffer frames, 3,712 at TC), and frames the kernel's test run refuses even to a program that does \
            nothing (at TC, IPv4 and IPv6 frames shorter than their network header), are not run \
            and are reported as such, with the reason. With --json, prints one \
            object per packet per line:

              {"index": 0, "verdict": "drop", "rule": 1}
              {"index": 1, "verdict": "pass", "rule": null}    (the policy decided)

            Example:
              xdpfw test rules.conf capture.pcap
            """)

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Argument(help: ArgumentHelp("A pcap capture file (Ethernet).", valueName: "capture.pcap"))
    var capture: String

    @Option(help: ArgumentHelp("The kind of program to run.", valueName: "hook"))
    var hook: ProgramHook = .xdp

    @Flag(help: "Print JSON lines for scripts.")
    var json = false

    func run() throws {
        let ruleset = try RulesInput.ruleset(at: rules)
        let capture = try CaptureInput.capture(at: self.capture)
        let loaded = try LoadedRuleset.load(ruleset, hook: hook)
        defer { loaded.close() }
        var seen = [UInt64](repeating: 0, count: ruleset.counterSlots)
        var output = ""
        var tally: [String: Int] = [:]
        var doNothing: BPFProgram?  // loaded when the kernel first refuses a frame
        defer { doNothing?.close() }
        for (index, packet) in capture.packets.enumerated() {
            let result: TestRunResult
            switch try Test.run(packet.bytes, loaded.program, doNothing: &doNothing, hook: hook) {
            case .ran(let ran):
                result = ran
            case .notRun(let error, let reason):
                tally["not run", default: 0] += 1
                output += json
                    ? JSON.object([("index", .integer(Int64(index))), ("verdict", .null), ("rule", .null),
                                   ("error", .string(error))]).text + "\n"
                    : Test.line(index, "-", "not run: " + reason)
                continue
            }
            // The rule that decided is the counter slot that moved (all slots read in one batch).
            let now = try loaded.packetCounts()
            var decidingSlot: Int?
            for slot in seen.indices where now[slot] != seen[slot] { decidingSlot = slot }
            seen = now
            let rule = decidingSlot.flatMap(Ruleset.ruleIndex(ofCounterSlot:)).map { ruleset.rules[$0] }
            let verdict = loaded.verdict(returnValue: result.returnValue)?.rawValue ?? "return value \(result.returnValue)"
            tally[verdict, default: 0] += 1
            if json {
                output += JSON.object([("index", .integer(Int64(index))), ("verdict", .string(verdict)),
                                       ("rule", rule.map { .integer(Int64($0.number)) } ?? .null)]).text + "\n"
            } else {
                output += Test.line(index, verdict, rule.map { "rule \($0.number) (line \($0.line)): \($0.expression)" } ?? "policy")
            }
            if output.utf8.count > 1 << 16 { Output.standardOutput(output); output = "" }
        }
        if !json {
            let counts = tally.keys.sorted().map { "\(tally[$0]!) \($0)" }.joined(separator: ", ")
            output += "\(capture.packets.count) packets" + (counts.isEmpty ? "" : ": \(counts)") + "\n"
        }
        Output.standardOutput(output)
        if let readError = capture.readError {
            throw CommandFailure("\(self.capture): stopped reading after \(capture.packets.count) packets: \(readError)")
        }
    }

    private enum Outcome {
        case ran(TestRunResult)
        case notRun(error: String, reason: String)
    }

    /// Runs `packet` through `program`, or says why not: too short or long for the kernel's test
    /// run, or refused by it to a program that does nothing as well (loaded into `doNothing` the
    /// first time). Any other failure is the program's, and thrown.
    private static func run(_ packet: [UInt8], _ program: BPFProgram, doNothing: inout BPFProgram?,
                            hook: ProgramHook) throws -> Outcome {
        if let problem = CaptureInput.untestable(packet.count, limit: program.type.testRunFrameLimit) {
            return .notRun(error: problem.error, reason: problem.reason)
        }
        do {
            return .ran(try program.testRun(packet: packet))
        } catch {
            if doNothing == nil { doNothing = try DoNothingProgram.load(hook) }
            guard let problem = DoNothingProgram.refusal(of: packet, by: doNothing!) else { throw error }
            return .notRun(error: problem.error, reason: problem.reason)
        }
    }

    private static func line(_ index: Int, _ verdict: String, _ reason: String) -> String {
        let number = String(index)
        return String(repeating: " ", count: max(0, 6 - number.count)) + number + "  "
            + verdict + String(repeating: " ", count: max(0, 5 - verdict.count)) + "  " + reason + "\n"
    }
}
