import ArgumentParser
import EBPF
import Firewall
import Foundation
import Kernel
import PacketFormats
import Ruleset

/// `xdpfw log`: the packets the rules drop (or every decision), live, from the ring buffer the
/// programs write to while a logger has switched the log on.
struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the packets the rules drop at an interface, as they happen.",
        discussion: """
            Switches on the log of the rules in force at the interface, prints one line per packet \
            until interrupted (or -c packets), and switches it off again. Each line has the time, \
            the interface, the hook, the rule that decided (its number as `stats` shows it, or \
            `policy`), the verdict and a tcpdump-style summary of the frame:

              14:02:11.530218 eth0 xdp rule 2 drop IP 192.0.2.7.5123 > 10.0.0.1.22: Flags [S], length 0

            With -w FILE the frames go to a pcap file instead (`tcpdump -r FILE` reads it; - is \
            standard output): the first 256 bytes of each frame as the hook saw it, with its \
            length on the wire.

            The programs of `xdpfw apply` carry the log switched off; it costs under a \
            nanosecond a packet then (docs/command-line.md has the figures). While it is on, \
            at most --rate packets a second per CPU are logged (a token bucket in the program, \
            with bursts of one second's worth), and when the ring buffer between the program \
            and xdpfw is full, further packets are not logged: a flood slows neither the \
            datapath nor this command. One logger at a time per interface and hook. The log \
            follows a re-apply of the rules; it ends when they are detached.

            Examples:
              xdpfw log eth0
              xdpfw log eth0 --all --rule 3 -c 10
              xdpfw log eth0 -w drops.pcap -c 1000 && tcpdump -nr drops.pcap
            """)

    @ParentCommand var global: XDPFW

    @Argument(help: ArgumentHelp("The network interface.", valueName: "interface"))
    var interface: String

    @Option(help: ArgumentHelp("The hook (needed when the interface has rules at several).", valueName: "hook"))
    var hook: Hook?

    @Option(name: .customShort("c"), parsing: .unconditional, help: ArgumentHelp("Stop after this many packets.", valueName: "count"))
    var count: Int?

    @Option(name: .customShort("w"), help: ArgumentHelp("Write the frames to this pcap file instead of printing lines (- is standard output).", valueName: "file"))
    var write: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Only the packets rule N decided (its number in `xdpfw stats`).", valueName: "N"))
    var rule: Int?

    @Flag(help: "Every decision, passes included, not only drops.")
    var all = false

    @Option(parsing: .unconditional, help: ArgumentHelp("At most this many packets a second, per CPU.", valueName: "pps"))
    var rate: UInt64 = 1_000

    func validate() throws {
        if let count, count < 1 { throw ValidationError("-c must be at least 1") }
        if let rule, rule < 1 { throw ValidationError("--rule takes a rule number (1 is the first rule)") }
        guard (1...PacketLogSwitch.maximumRate).contains(rate) else {
            throw ValidationError("--rate must be between 1 and \(PacketLogSwitch.maximumRate)")
        }
    }

    func run() throws {
        let installations = try global.installations(at: interface, hook: hook)
        guard installations.count == 1, let installation = installations.first else {
            throw CommandFailure.severalHooks(at: interface, installations.map(\.hook))
        }
        guard installation.isAttached else {
            throw CommandFailure("the rules at \(interface) \(installation.hook.rawValue) are not in force (\(installation.state.rawValue)); see `xdpfw status`")
        }
        let rules = try installation.rulesetText.map { try RulesFile.parse($0, file: AttachedRuleset.file(of: installation)) }
        if let rule, let rules, rule > rules.rules.count {
            throw CommandFailure("--rule \(rule): the rules at \(interface) \(installation.hook.rawValue) are numbered 1 to \(rules.rules.count)")
        }
        guard let lock = try RunLocks.logReader(of: installation) else {
            throw CommandFailure("another xdpfw log is reading \(interface) \(installation.hook.rawValue)")
        }
        defer { lock.release() }
        let output = try write.map(LogCaptureFile.init(path:))
        defer { output?.close() }
        var session = try LogSession(installation: installation, switchValue: switchValue)
        defer { session.stop() }
        StopSignal.install([SIGINT, SIGTERM])
        let what = (all ? "decisions" : "drops") + (rule.map { " of rule \($0)" } ?? "")
        Output.standardError("xdpfw: logging \(what) at \(interface) \(installation.hook.rawValue), "
                             + "at most \(rate) packets/s per CPU; ^C to stop\n")
        let context = installation.hook.kind.context
        let offset = BootClock.unixOffsetNanoseconds()
        var logged = 0
        while StopSignal.received == 0 && logged < (count ?? .max) {
            for record in try session.take() where logged < (count ?? .max) {
                let time = UInt64(max(Int64(record.bootTimeNanoseconds) + offset, 0))
                if let output {
                    try output.append(record, unixNanoseconds: time)
                } else {
                    Output.standardOutput(line(record, unixNanoseconds: time, hook: installation.hook, context: context) + "\n")
                }
                logged += 1
            }
        }
        Output.standardError("xdpfw: \(logged) packet\(logged == 1 ? "" : "s") logged\n")
    }

    private var switchValue: PacketLogSwitch {
        var flags = PacketLogSwitch.on | (all ? PacketLogSwitch.everyVerdict : 0)
        if rule != nil { flags |= PacketLogSwitch.oneRule }
        return PacketLogSwitch(flags: flags, slot: UInt32(rule.map { Ruleset.counterSlot(ofRuleIndex: $0 - 1) } ?? 0), rate: rate)
    }

    private func line(_ record: PacketLogRecord, unixNanoseconds: UInt64, hook: Hook, context: any HookContext) -> String {
        let verdict = Verdict.allCases.first { UInt32(bitPattern: context.returnCode(for: $0)) == record.returnCode }
        let decider = Ruleset.ruleIndex(ofCounterSlot: Int(record.slot)).map { "rule \($0 + 1)" } ?? "policy"
        return [Log.clockText(unixNanoseconds), interface, hook.rawValue, decider,
                verdict?.rawValue ?? "return \(record.returnCode)",
                PacketSummary.describe(record.frame, wireLength: Int(record.wireLength))].joined(separator: " ")
    }

    /// Local time of day with microseconds, as tcpdump prints it.
    static func clockText(_ unixNanoseconds: UInt64) -> String {
        var seconds = time_t(unixNanoseconds / 1_000_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        let micro = String(unixNanoseconds % 1_000_000_000 / 1_000)
        return String(format: "%02d:%02d:%02d.", parts.tm_hour, parts.tm_min, parts.tm_sec)
            + String(repeating: "0", count: 6 - micro.count) + micro
    }
}

/// `-w FILE`: the logged frames as a pcap file.
struct LogCaptureFile {
    private let handle: FileHandle

    init(path: String) throws {
        if path == "-" {
            handle = .standardOutput
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw CommandFailure("cannot write \(path)")
            }
            self.handle = handle
        }
        handle.write(Data(CaptureFileFormat.fileHeader(snapLength: UInt32(PacketLogRecord.frameBytes))))
    }

    func append(_ record: PacketLogRecord, unixNanoseconds: UInt64) throws {
        handle.write(Data(CaptureFileFormat.record(record.frame, wireLength: record.wireLength, unixNanoseconds: unixNanoseconds)))
    }

    func close() {
        if handle !== FileHandle.standardOutput { try? handle.close() }
    }
}
