import ArgumentParser
import EBPF
import Firewall
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
            --packets (a capture file). Also prints the program's size, the instructions the verifier \
            walked, and the time taken to compile the rules and to load them (maps filled, verifier, JIT). \
            With --json (keys after "repeat" are additions to the contract):

              {"ns_per_packet": 3.1, "baseline_ns": 21.0, "instructions": 57,
               "packets": 8, "repeat": 100000, "gross_ns_per_packet": 24.1,
               "verified_instructions": 80, "compile_ms": 1.2, "load_ms": 3.4,
               "verify_ms": 2.9, "rules": 3, "lookup_tables": 0, "hook": "xdp",
               "programs": 1}

            At XDP, the two programs are attached natively to a veth pair in a private network \
            namespace (xdpfw-PID-bench, deleted after) while they are measured: the kernel's test \
            run of an XDP program attached nowhere waits ~50-90 ms each time.

            "programs" is how many programs chained by tail calls the ruleset was split into (1 \
            unless it is too big for the verifier as one); the instruction counts and times are \
            summed over them.

            Example:
              xdpfw bench rules.conf --hook tc --packets capture.pcap
            """)

    @Argument(help: ArgumentHelp("The rules file (- reads standard input).", valueName: "rules.conf"))
    var rules: String

    @Option(help: ArgumentHelp("The kind of program to measure.", valueName: "hook"))
    var hook: Hook.Kind = .xdp

    @Option(name: [.customLong("packets"), .customLong("pcap")],
            help: ArgumentHelp("Measure with the frames of this Ethernet capture file (at most 1000; frames the kernel's test run cannot take are skipped).", valueName: "capture.pcap"))
    var pcap: String?

    // Unconditional: `--repeat -5` is a bad count, not a missing one.
    @Option(parsing: .unconditional, help: ArgumentHelp("Runs per packet and program.", valueName: "count"))
    var `repeat`: UInt32 = 100_000

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(help: "At XDP, measure the multi-buffer program apply attaches where the MTU is over 3000 bytes (chosen anyway for frames longer than a page).")
    var multiBuffer = false

    /// The programs without the drop log's code: what it costs with no logger is the
    /// difference from a run without this flag (docs/command-line.md, `log`).
    @Flag(name: .customLong("without-log"), help: .hidden)
    var withoutLog = false

    func validate() throws {
        guard (1...10_000_000).contains(self.repeat) else { throw ValidationError("--repeat must be between 1 and 10000000") }
        if hook != .xdp && multiBuffer { throw ValidationError("--multi-buffer is for --hook xdp only") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let compileStart = clock.now
        let ruleset = try RulesInput.ruleset(at: rules)
        let spec = RulesetSpec(ruleset)   // the rules placed in segments: compiling, timed with it
        let compiled = clock.now - compileStart
        let probe = try DoNothingProgram.load(hook)
        let packets: [[UInt8]]
        do { packets = try benchPackets(baseline: probe) } catch { probe.close(); throw error }
        // What `apply` attaches to a device at a usual MTU (a single-buffer program at XDP),
        // unless some frame needs a multi-buffer one (longer than a page).
        let multiBuffer = hook == .xdp && (self.multiBuffer || packets.contains { $0.count > hook.testRunLinearLimit })
        let baseline: BPFProgram
        if multiBuffer {
            baseline = probe
        } else {
            probe.close()
            baseline = try DoNothingProgram.load(hook, multiBuffer: false)
        }
        defer { baseline.close() }
        let loadStart = clock.now
        let loaded = try LoadedRuleset.load(spec, hook: hook, logging: !withoutLog, multiBuffer: multiBuffer)
        let loadTime = clock.now - loadStart
        defer { loaded.close() }
        // A ruleset split into chunks: the verifier's work and time summed over its programs.
        let verified = try loaded.verifiedInstructions()
        let verifyTime = loaded.verifyDuration
        // Each XDP run of many repeats would otherwise wait ~50-90 ms for the kernel to take the
        // program out of its XDP dispatcher again.
        let hold = hook == .xdp && self.repeat > 1 ? holdInDispatcher([loaded.program, baseline]) : nil
        defer { hold?.close() }
        let timing = try RulesetBench.measure(loaded.program, baseline: baseline, frames: packets, repeats: self.repeat)
        let rulesNanoseconds = timing.rules, baselineNanoseconds = timing.baseline
        let count = Double(packets.count)
        let perPacket = (rulesNanoseconds - baselineNanoseconds) / count
        let baselineMean = baselineNanoseconds / count
        let tables = loaded.lookupTableCount
        if json {
            Output.standardOutput(JSON.object([
                ("ns_per_packet", .number(Bench.tenths(perPacket))),
                ("baseline_ns", .number(Bench.tenths(baselineMean))),
                ("instructions", .integer(Int64(loaded.instructionCount))),
                ("packets", .integer(Int64(packets.count))),
                ("repeat", .unsigned(UInt64(self.repeat))),
                ("gross_ns_per_packet", .number(Bench.tenths(rulesNanoseconds / count))),
                ("verified_instructions", .unsigned(UInt64(verified))),
                ("compile_ms", .number(Bench.milliseconds(compiled))),
                ("load_ms", .number(Bench.milliseconds(loadTime))),
                ("verify_ms", .number(Bench.milliseconds(verifyTime))),
                ("rules", .integer(Int64(ruleset.rules.count))),
                ("lookup_tables", .integer(Int64(tables))),
                ("hook", .string(hook.rawValue)),
                ("xdp_buffers", hook == .xdp ? .string(multiBuffer ? "multi" : "single") : .null),
                ("programs", .integer(Int64(loaded.programCount))),
                ("map_bytes", .integer(Int64(loaded.mapBytes))),
                ("classifier_rules", .integer(Int64(spec.placement.classifiedRules))),
            ]).text + "\n")
        } else {
            let count = ruleset.rules.count == 1 ? "1 rule" : "\(ruleset.rules.count) rules"
            let programs = loaded.programCount == 1 ? "" : " in \(loaded.programCount) programs chained by tail calls"
            Output.standardOutput("\(ruleset.file) at \(hook.rawValue): \(count), \(loaded.instructionCount) instructions\(programs) "
                                  + "(the verifier walked \(verified)), \(tables) lookup tables\n"
                                  + "  \(Bench.format(perPacket)) ns per packet above a do-nothing program "
                                  + "(which takes \(Bench.format(baselineMean)) ns), "
                                  + "\(packets.count) packets × \(self.repeat) runs\n"
                                  + "  compiled in \(Bench.milliseconds(compiled)) ms, loaded in \(Bench.milliseconds(loadTime)) ms "
                                  + "(verifier and JIT \(Bench.milliseconds(verifyTime)) ms)\n")
        }
    }

    /// The frames to measure with: the built-in mix, or those of --packets the kernel's test run
    /// takes (whole, and at all: a frame it refuses to `baseline` too is skipped).
    private func benchPackets(baseline: BPFProgram) throws -> [[UInt8]] {
        guard let pcap else { return RulesetBench.builtInFrames }
        let found = RulesetBench.frames(of: try CaptureInput.capture(at: pcap), hook: hook, baseline: baseline)
        let packets = found.frames, skipped = found.skipped, limit = hook.testRunFrameLimit
        if skipped > 0, let firstReason = found.firstReason {
            Output.standardError("xdpfw: note: \(pcap): skipped \(skipped) frame\(skipped == 1 ? "" : "s") the kernel's test run cannot take (first: \(firstReason))\n")
        }
        guard !packets.isEmpty else { throw CommandFailure("\(pcap): no frame the kernel's test run can take (14 to \(limit) bytes) to measure with") }
        return packets
    }

    /// The programs held in the XDP dispatcher, or nil (with a note) when that cannot be done
    /// here: the figures are the same, each run just waits longer.
    private func holdInDispatcher(_ programs: [BPFProgram]) -> XDPDispatcherHold? {
        do {
            return try XDPDispatcherHold(programs: programs)
        } catch {
            Output.standardError("xdpfw: note: cannot keep the programs in the kernel's XDP dispatcher (\(error)); "
                                 + "each run waits ~50-90 ms for the kernel: slower, same figures\n")
            return nil
        }
    }

    static func tenths(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return tenths(Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }

    static func format(_ nanoseconds: Double) -> String {
        let tenths = (nanoseconds * 10).rounded()
        return String(tenths / 10)
    }
}
