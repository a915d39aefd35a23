import EBPF
import Kernel
import Ruleset

/// `xdpfw test`'s runs: each packet through a loaded ruleset by the kernel's test run, and the
/// rule that decided it, which is the counter slot that moved.
public final class RulesetTestRun {
    /// What became of one packet.
    public enum Outcome {
        /// The program ran: its return value, the verdict it stands for, and the deciding rule
        /// (nil: the policy decided).
        case ran(returnValue: UInt32, verdict: Verdict?, rule: Rule?)
        /// Not run, and why: for JSON, for people.
        case notRun(error: String, reason: String)
    }

    public let loaded: LoadedRuleset
    /// The packets each counter slot had counted after the last run.
    private var seen: [UInt64]
    /// Loaded when the kernel first refuses a frame.
    private var doNothing: BPFProgram?

    public init(_ loaded: LoadedRuleset) {
        self.loaded = loaded
        seen = [UInt64](repeating: 0, count: loaded.ruleset.counterSlots)
    }

    /// Runs `packet` through the program, or says why not: too short or long for the kernel's
    /// test run, or refused by it to a program that does nothing as well. Any other failure is
    /// the program's, and thrown.
    public func run(_ packet: [UInt8]) throws -> Outcome {
        let program = loaded.program
        if let problem = CaptureInput.untestable(packet.count, limit: program.type.testRunFrameLimit) {
            return .notRun(error: problem.error, reason: problem.reason)
        }
        let result: TestRunResult
        do {
            result = try program.testRun(packet: packet)
        } catch {
            if doNothing == nil { doNothing = try DoNothingProgram.load(loaded.hook) }
            guard let problem = DoNothingProgram.refusal(of: packet, by: doNothing!) else { throw error }
            return .notRun(error: problem.error, reason: problem.reason)
        }
        // The rule that decided is the counter slot that moved (all slots read in one batch).
        let now = try loaded.packetCounts()
        var decidingSlot: Int?
        for slot in seen.indices where now[slot] != seen[slot] { decidingSlot = slot }
        seen = now
        let rule = decidingSlot.flatMap(Ruleset.ruleIndex(ofCounterSlot:)).map { loaded.ruleset.rules[$0] }
        return .ran(returnValue: result.returnValue, verdict: loaded.verdict(returnValue: result.returnValue), rule: rule)
    }

    public func close() {
        doNothing?.close()
        doNothing = nil
    }
}
