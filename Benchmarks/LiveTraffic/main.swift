// The live-traffic rig of scripts/bench-live: sends frames out of a veth at the speed the kernel
// can (the live-frames test run), and writes the rulesets and frames the benchmark compares.
//
// Usage:
//   LiveTraffic send NAMESPACE INTERFACE FRAMES.pcap [--count N] [--seconds S]
//       sends the capture's frames (in turn, 4,096 copies at a time) out of INTERFACE until N
//       frames were sent or S seconds passed (defaults 2,000,000 and 5); prints
//       `frames N seconds S` on one line
//   LiveTraffic udp-frame SIZE OUT.pcap [--port N] one UDP frame of SIZE bytes to port N (9)
//   LiveTraffic five-tuple RULES SEED OUTDIR        OUTDIR/rules.conf (xdpfw), rules.nft (nft
//       statements), frames.pcap (one frame aimed at each rule)
//   LiveTraffic prefixes COUNT SEED OUTDIR          OUTDIR/set.txt (prefixes), set.nft (nft set
//       elements), addresses.txt (one address in each prefix, for xdp-filter), frames.pcap
import DifferentialTesting
import EBPF
import Foundation
import Kernel

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("LiveTraffic: \(message)\n".utf8))
    exit(2)
}

func option(_ name: String, in arguments: inout [String], default value: Double) -> Double {
    guard let index = arguments.firstIndex(of: name) else { return value }
    guard index + 1 < arguments.count, let number = Double(arguments[index + 1]), number > 0 else {
        fail("\(name) takes a positive number")
    }
    arguments.removeSubrange(index...index + 1)
    return number
}

func write(_ text: String, to path: String) {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("cannot write \(path): \(error)") }
}

func write(_ frames: [[UInt8]], to path: String) {
    guard FileManager.default.createFile(atPath: path, contents: CaptureFileWriter.pcap(frames)) else { fail("cannot write \(path)") }
}

var arguments = Array(CommandLine.arguments.dropFirst())
let verb = arguments.isEmpty ? "" : arguments.removeFirst()
switch verb {
case "send":
    let count = UInt64(option("--count", in: &arguments, default: 2_000_000))
    let seconds = option("--seconds", in: &arguments, default: 5)
    guard arguments.count == 3 else { fail("usage: send NAMESPACE INTERFACE FRAMES.pcap [--count N] [--seconds S]") }
    let frames: [[UInt8]]
    do { frames = try CaptureFile(path: arguments[2]).packets.map(\.bytes) } catch { fail("\(arguments[2]): \(error)") }
    guard !frames.isEmpty else { fail("\(arguments[2]) holds no frame") }
    do {
        let (sent, elapsed) = try LiveSender.send(frames, namespace: arguments[0], interface: arguments[1],
                                                  count: count, seconds: seconds)
        print("frames \(sent) seconds \(String(format: "%.4f", elapsed))")
    } catch {
        fail("\(error)")
    }
case "udp-frame":
    let port = option("--port", in: &arguments, default: 9)
    guard arguments.count == 2, let size = Int(arguments[0]), size >= 42, size <= 1514, port <= 65_535 else {
        fail("usage: udp-frame SIZE OUT.pcap [--port N] (42 to 1514 bytes)")
    }
    write([TrafficFrames.udp(source: [10, 0, 0, 1], destination: [10, 0, 0, 2], sourcePort: 4000,
                             destinationPort: UInt16(port), size: size)], to: arguments[1])
case "five-tuple":
    guard arguments.count == 3, let count = Int(arguments[0]), let seed = UInt64(arguments[1]) else {
        fail("usage: five-tuple RULES SEED OUTDIR")
    }
    let rules = FiveTupleRules(count: count, seed: seed)
    write(rules.xdpfwText, to: arguments[2] + "/rules.conf")
    write(rules.nftStatements, to: arguments[2] + "/rules.nft")
    write(rules.aimedFrames, to: arguments[2] + "/frames.pcap")
case "prefixes":
    guard arguments.count == 3, let count = Int(arguments[0]), let seed = UInt64(arguments[1]) else {
        fail("usage: prefixes COUNT SEED OUTDIR")
    }
    let set = PrefixSet(count: count, seed: seed)
    write(set.prefixes.map(\.text).joined(separator: "\n") + "\n", to: arguments[2] + "/set.txt")
    write(set.prefixes.map(\.text).joined(separator: ", "), to: arguments[2] + "/set.nft")
    write(set.addresses.map(PrefixSet.dotted).joined(separator: "\n") + "\n", to: arguments[2] + "/addresses.txt")
    write(set.aimedFrames, to: arguments[2] + "/frames.pcap")
default:
    fail("usage: LiveTraffic send|udp-frame|five-tuple|prefixes ... (see the comment at the top of main.swift)")
}
