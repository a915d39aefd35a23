import EBPF
import Foundation
import Kernel

/// Sends frames out of a veth with the kernel's live-frames test run of a program that returns
/// XDP_TX. The program is attached natively to the sending veth while it runs: a program already
/// in the kernel's XDP dispatcher skips the RCU wait each test run with repeat > 1 pays otherwise
/// (design.md, "Measured on these machines"). Bounded in frames and in time.
enum LiveSender {
    static let copiesPerRun: UInt64 = 4_096

    static func send(_ frames: [[UInt8]], namespace: String, interface name: String,
                     count: UInt64, seconds: Double) throws -> (sent: UInt64, seconds: Double) {
        var assembler = Assembler()
        assembler.move(.r0, 3)  // XDP_TX
        assembler.exit()
        let program = try BPFProgram.load(type: .xdp, instructions: try assembler.assemble().map(\.encoded), name: "xdpfw_livegen")
        defer { program.close() }
        return try NetworkNamespace.run(in: namespace) {
            let interface = try NetworkInterface(name: name)
            let link = try XDPAttachment.attach(program, to: interface, mode: .native)
            defer { try? link.detach(); link.close() }
            let clock = ContinuousClock()
            let start = clock.now
            let deadline = start + .milliseconds(Int(seconds * 1000))
            // Many frames (one aimed at each rule): fewer copies each, so that every frame is
            // sent several times within the bounds.
            let expected = min(Double(count), seconds * 5e6)
            let perFrame = frames.count == 1 ? copiesPerRun
                : UInt64(max(64, min(Double(copiesPerRun), expected / Double(frames.count * 3))))
            var sent: UInt64 = 0, next = 0
            while sent < count && clock.now < deadline {
                let copies = min(perFrame, count - sent)
                _ = try program.transmitLive(frame: frames[next], count: UInt32(copies), interface: interface)
                sent += copies
                next = (next + 1) % frames.count
            }
            let elapsed = clock.now - start
            return (sent, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}
