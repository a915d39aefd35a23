import EBPF
import Kernel

/// `xdpfw bench`'s measurement: each frame run many times through the ruleset's program and
/// through a do-nothing program (`DoNothingProgram`, the baseline), by the kernel's test runs.
public enum RulesetBench {
    /// The built-in mix: the demo's ICMP, UDP and TCP frames between two test hosts.
    public static var builtInFrames: [[UInt8]] {
        DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                    sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2]).bursts().map(\.frame)
    }

    /// The frames of a capture to measure with, and those left out.
    public struct CaptureFrames {
        public var frames: [[UInt8]] = []
        public var skipped = 0
        /// Why the first frame left out was, for people.
        public var firstReason: String?
    }

    /// The first `limit` frames of `capture` the kernel's test run takes for `hook` (whole, and
    /// at all: a frame it refuses to `baseline` too is skipped).
    public static func frames(of capture: CaptureFile, hook: Hook.Kind, baseline: BPFProgram, limit: Int = 1000) -> CaptureFrames {
        var result = CaptureFrames()
        let frameLimit = hook.testRunFrameLimit
        for packet in capture.packets where result.frames.count < limit {
            if let problem = CaptureInput.untestable(packet.bytes.count, limit: frameLimit)
                ?? DoNothingProgram.refusal(of: packet.bytes, by: baseline) {
                result.skipped += 1
                result.firstReason = result.firstReason ?? problem.reason
                continue
            }
            result.frames.append(packet.bytes)
        }
        return result
    }

    /// Nanoseconds the two programs took, summed over the frames (each run `repeats` times).
    public struct Timing {
        public var rules = 0.0
        public var baseline = 0.0
    }

    /// Runs every frame through both programs, alternating per frame so drift in the machine's
    /// load hits both alike.
    public static func measure(_ program: BPFProgram, baseline: BPFProgram, frames: [[UInt8]], repeats: UInt32) throws -> Timing {
        var timing = Timing()
        for frame in frames {
            timing.baseline += Double(try baseline.testRun(packet: frame, repeat: repeats).durationNanoseconds)
            timing.rules += Double(try program.testRun(packet: frame, repeat: repeats).durationNanoseconds)
        }
        return timing
    }
}

extension LoadedRuleset {
    /// The instructions the verifier walked, summed over the ruleset's programs.
    public func verifiedInstructions() throws -> Int {
        try loaded.programs.reduce(0) { $0 + Int(try $1.info().verifiedInstructions) }
    }

    /// The time the verifier and JIT took, summed over the ruleset's programs.
    public var verifyDuration: Duration {
        loaded.programs.compactMap(\.loadDuration).reduce(Duration.zero, +)
    }

    /// The memory the kernel charges for every map the ruleset loaded.
    public var mapBytes: Int { loaded.mapBytes }
}
