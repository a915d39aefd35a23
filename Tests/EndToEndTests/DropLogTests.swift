import Foundation
import XCTest
import DifferentialTesting
import EBPF
import Kernel
import Ruleset

/// `xdpfw log` on a veth pair in test namespaces: the rules at namespace a's veth, frames sent
/// from b. The pcap it writes, read back by tcpdump, holds exactly the dropped frames as sent;
/// `--rule` and `--all` select; `--rate` bounds what is logged while every frame is still
/// counted; SIGTERM ends it with the log switched off; no logger, no record; detach removes
/// the log's pins.
final class DropLogTests: XCTestCase {
    static let rules = """
        policy pass
        drop udp dst port 9
        drop icmp
        pass udp

        """

    /// Frames from b to a: `drops` UDP to port 9 (one of 400 bytes, beyond the 256 a record
    /// keeps) and ICMP echoes, `passes` UDP to port 10.
    static func frames(_ network: TestNetwork, drops: Int, passes: Int) -> (dropped: [[UInt8]], passed: [[UInt8]]) {
        func frame(_ ip: [UInt8]) -> [UInt8] { PacketBuilder.ethernet(destination: network.a.mac, source: network.b.mac, type: 0x0800, ip) }
        let source: [UInt8] = [10, 9, 0, 2], destination: [UInt8] = [10, 9, 0, 1]
        let dropped = (0..<drops).map { index -> [UInt8] in
            index % 2 == 0
                ? frame(PacketBuilder.ipv4(source: source, destination: destination, protocol: 17,
                                           PacketBuilder.udp(source: 40000, destination: 9, [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index == 0 ? 358 : 10 + index % 100))))
                : frame(PacketBuilder.ipv4(source: source, destination: destination, protocol: 1, [8, 0, 0, 0, 0, 1, 0, UInt8(truncatingIfNeeded: index)] + [UInt8](repeating: 0, count: 8)))
        }
        let passed = (0..<passes).map { index in
            frame(PacketBuilder.ipv4(source: source, destination: destination, protocol: 17,
                                     PacketBuilder.udp(source: 40000, destination: 10, [UInt8](repeating: 1, count: 4 + index))))
        }
        return (dropped, passed)
    }

    func testThePcapHoldsTheDroppedFramesAsSentAtXDPAndTC() throws {
        try EndToEnd.requireRoot()
        let tcpdump = try Self.tcpdump()
        for hook in ["xdp", "tc-ingress"] {
            let quiet = try QuietNetwork()
            defer { quiet.close() }
            try quiet.apply(Self.rules, on: .a, hook: hook)
            let (dropped, passed) = Self.frames(quiet.network, drops: 9, passes: 5)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-log-\(getpid())-\(hook).pcap").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let logger = try Self.start(quiet, ["log", quiet.network.a.interfaceName, "--hook", hook, "-c", "\(dropped.count)", "-w", file])
            defer { logger.stop() }
            try quiet.send(Array(zip(dropped, passed).flatMap { [$0, $1] }) + dropped.dropFirst(passed.count), from: .b)
            XCTAssertEqual(try Self.exitStatus(logger), 0, "\(hook): -c \(dropped.count) ends it: \(logger.errors())")

            // tcpdump reads it: the frames (first 256 bytes) and their lengths on the wire.
            let read = try XCTUnwrap(try ProcessRun.run(tcpdump, ["-e", "-nn", "-xx", "-r", file], timeout: 30))
            XCTAssertEqual(read.status, 0, read.standardError)
            let logged = Self.framesOfTcpdump(read.standardOutput)
            let expected = dropped.map { (length: $0.count, bytes: Array($0.prefix(PacketLogRecord.frameBytes))) }
            XCTAssertEqual(logged.map(\.length), expected.map(\.length), "\(hook): wire lengths in sending order")
            XCTAssertEqual(logged.map(\.bytes), expected.map(\.bytes), "\(hook): the frames as sent")
            XCTAssertTrue(read.standardError.contains("snapshot length 256"), read.standardError)
            XCTAssertEqual(try Self.switchFlags(quiet, hook: hook), 0, "\(hook): logging is off after it ended")
        }
    }

    func testRuleAndAllSelectAndLinesSummarizeAsTcpdump() throws {
        try EndToEnd.requireRoot()
        let tcpdump = try Self.tcpdump()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        try quiet.apply(Self.rules, on: .a, hook: "xdp")
        let (dropped, passed) = Self.frames(quiet.network, drops: 6, passes: 4)
        let interface = quiet.network.a.interfaceName
        for (options, expected, rule) in [(["--all", "--rule", "3"], passed, "rule 3 pass"), (["--rule", "2"], dropped.enumerated().filter { $0.offset % 2 == 1 }.map(\.element), "rule 2 drop")] {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-log-\(getpid()).out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: output) }
            let logger = try Self.start(quiet, ["log", interface, "-c", "\(expected.count)"] + options,
                                        standardOutput: try FileHandle(forWritingTo: output))
            defer { logger.stop() }
            try quiet.send(dropped + passed, from: .b)
            XCTAssertEqual(try Self.exitStatus(logger), 0, logger.errors())
            let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init)
            // tcpdump's own summary of the same frames, after its timestamp.
            let frames = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-log-\(getpid())-sent.pcap")
            try CaptureFileWriter.pcap(expected).write(to: frames)
            defer { try? FileManager.default.removeItem(at: frames) }
            let summaries = try XCTUnwrap(try ProcessRun.run(tcpdump, ["-nn", "-r", frames.path], timeout: 30)).standardOutput
                .split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" }
            XCTAssertEqual(lines.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" },
                           summaries.map { "\(interface) xdp \(rule) \($0)" }, options.joined(separator: " "))
        }
    }

    func testTheRateBoundsTheLogWhileEveryFrameIsCountedAndSIGTERMSwitchesItOff() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        try quiet.apply(Self.rules, on: .a, hook: "xdp")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-log-\(getpid())-rate.pcap").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let rate = 10
        let logger = try Self.start(quiet, ["log", quiet.network.a.interfaceName, "--rate", "\(rate)", "-w", file])
        defer { logger.stop() }
        let (dropped, _) = Self.frames(quiet.network, drops: 600, passes: 0)
        let start = Date()
        try quiet.send(dropped, from: .b)
        let counters = try quiet.counters(on: .a, hook: "xdp", settlingAt: dropped.count)
        XCTAssertEqual(counters[1][0] + counters[2][0], UInt64(dropped.count), "every frame is counted (dropped)")
        XCTAssertEqual(try Self.switchFlags(quiet, hook: "xdp") & PacketLogSwitch.on, PacketLogSwitch.on, "on while it runs")
        XCTAssertEqual(try logger.terminate(), 0, logger.errors())
        let seconds = Date().timeIntervalSince(start)
        let capture = try CaptureFile(path: file)
        let bound = Double(rate) * Double(try BPFMap.possibleCPUCount()) * (1 + seconds)
        XCTAssertGreaterThanOrEqual(capture.packets.count, rate, "a full bucket's burst")
        XCTAssertLessThanOrEqual(Double(capture.packets.count), bound, "at most rate × CPUs × (1 + \(seconds) s)")
        XCTAssertEqual(try Self.switchFlags(quiet, hook: "xdp"), 0, "SIGTERM switched it off")
    }

    func testNoLoggerWritesNothingToTheRingAndDetachRemovesTheLogPins() throws {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        defer { quiet.close() }
        try quiet.apply(Self.rules, on: .a, hook: "tc-ingress")
        let (dropped, passed) = Self.frames(quiet.network, drops: 20, passes: 20)
        try quiet.send(dropped + passed, from: .b)
        _ = try quiet.counters(on: .a, hook: "tc-ingress", settlingAt: dropped.count + passed.count)
        let directory = Self.pins(quiet, hook: "tc-ingress")
        let ring = try BPFMap.fromPinned(directory.path(of: Ruleset.logMaps.ringMap))
        defer { ring.close() }
        XCTAssertEqual(try RingBufferReader(map: ring).take(waitingMilliseconds: 0).count, 0, "no logger, no record")
        for entry in Ruleset.logMaps.all { XCTAssertTrue(directory.entries.contains(entry.pinEntry), entry.text) }
        let detached = try Xdpfw.run(["-n", quiet.network.a.namespace, "detach", quiet.network.a.interfaceName])
        XCTAssertEqual(detached.status, 0, detached.standardError)
        XCTAssertFalse(directory.exists, "detach removed the pins, the log's too: \(directory.entries)")
        for entry in Ruleset.logMaps.all { XCTAssertFalse(BPFFileSystem.exists(directory.path(of: entry)), entry.text) }
    }

    // MARK: -

    static func tcpdump() throws -> URL {
        guard let path = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("tcpdump (installed by scripts/setup) is missing: the pcap cannot be read back")
        }
        return URL(fileURLWithPath: path)
    }

    /// Starts `xdpfw -n A ARGUMENTS` and waits until it says it is logging.
    static func start(_ quiet: QuietNetwork, _ arguments: [String], standardOutput: FileHandle? = nil) throws -> WatchProcess {
        let logger = try WatchProcess(quiet: quiet, arguments: arguments, standardOutput: standardOutput)
        let deadline = Date().addingTimeInterval(WatchProcess.patience)
        while !logger.errors().contains("xdpfw: logging") && logger.process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard logger.errors().contains("xdpfw: logging") else {
            logger.stop()
            throw Xdpfw.Failure(description: "xdpfw log did not start: \(logger.errors())")
        }
        return logger
    }

    /// Its exit status once it ends by itself (bounded: killed after the patience).
    static func exitStatus(_ logger: WatchProcess) throws -> Int32? {
        let deadline = Date().addingTimeInterval(WatchProcess.patience)
        while logger.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !logger.process.isRunning else { logger.stop(); return nil }
        return logger.process.terminationStatus
    }

    static func pins(_ quiet: QuietNetwork, hook: String) -> PinDirectory {
        PinDirectory(interface: quiet.network.a.interfaceName, hook: Hook(rawValue: hook)!,
                     root: PinDirectory.root(forNamespace: quiet.network.a.namespace))
    }

    /// The flags word of the pinned log switch (0: off).
    static func switchFlags(_ quiet: QuietNetwork, hook: String) throws -> UInt32 {
        let map = try BPFMap.fromPinned(pins(quiet, hook: hook).path(of: Ruleset.logMaps.switchMap))
        defer { map.close() }
        let value = try XCTUnwrap(try map.lookup(key: BPFMap.key(index: 0)))
        return UInt32(value[0]) | UInt32(value[1]) << 8 | UInt32(value[2]) << 16 | UInt32(value[3]) << 24
    }

    /// (wire length, bytes) of each packet in `tcpdump -e -xx` output.
    static func framesOfTcpdump(_ text: String) -> [(length: Int, bytes: [UInt8])] {
        var frames: [(length: Int, bytes: [UInt8])] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("\t0x") {
                let hex = line.split(separator: ":", maxSplits: 1)[1].split(separator: " ").joined()
                let bytes = stride(from: 0, to: hex.count - 1, by: 2).compactMap {
                    UInt8(hex[hex.index(hex.startIndex, offsetBy: $0) ..< hex.index(hex.startIndex, offsetBy: $0 + 2)], radix: 16)
                }
                if !frames.isEmpty { frames[frames.count - 1].bytes += bytes }
            } else if let range = line.range(of: ", length "), let end = line[range.upperBound...].firstIndex(of: ":"),
                      let length = Int(line[range.upperBound..<end]) {
                frames.append((length, []))
            }
        }
        return frames
    }
}
