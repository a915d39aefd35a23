import ArgumentParser
import EBPF
import Firewall
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
    var hook: Hook.Kind = .xdp

    @Flag(help: "Print JSON lines for scripts.")
    var json = false

    func run() throws {
        let ruleset = try RulesInput.ruleset(at: rules)
        let capture = try CaptureInput.capture(at: self.capture)
        let loaded = try LoadedRuleset.load(ruleset, hook: hook)
        defer { loaded.close() }
        let runs = RulesetTestRun(loaded)
        defer { runs.close() }
        var output = ""
        var tally: [String: Int] = [:]
        for (index, packet) in capture.packets.enumerated() {
            switch try runs.run(packet.bytes) {
            case let .notRun(error, reason):
                tally["not run", default: 0] += 1
                output += json
                    ? JSON.object([("index", .integer(Int64(index))), ("verdict", .null), ("rule", .null),
                                   ("error", .string(error))]).text + "\n"
                    : Test.line(index, "-", "not run: " + reason)
            case let .ran(returnValue, decided, rule):
                let verdict = decided?.rawValue ?? "return value \(returnValue)"
                tally[verdict, default: 0] += 1
                if json {
                    output += JSON.object([("index", .integer(Int64(index))), ("verdict", .string(verdict)),
                                           ("rule", rule.map { .integer(Int64($0.number)) } ?? .null)]).text + "\n"
                } else {
                    output += Test.line(index, verdict, rule.map { "rule \($0.number) (line \($0.line)): \($0.expression)" } ?? "policy")
                }
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

    private static func line(_ index: Int, _ verdict: String, _ reason: String) -> String {
        let number = String(index)
        return String(repeating: " ", count: max(0, 6 - number.count)) + number + "  "
            + verdict + String(repeating: " ", count: max(0, 5 - verdict.count)) + "  " + reason + "\n"
    }
}
