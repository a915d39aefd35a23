import EBPF
import Kernel

/// A program of one kind that returns "pass" at once: what the hook costs by itself (the
/// baseline `bench` subtracts), and the witness that a frame the kernel's test run refuses is
/// refused for any program, not for the ruleset's (this kernel's skb test run refuses IPv4 and
/// IPv6 frames shorter than their network header, with EINVAL).
public enum DoNothingProgram {
    /// `multiBuffer`: at XDP, loaded as a multi-buffer program (it then takes the test run's
    /// frames of every length; held in one dispatcher with the ruleset's, both must agree).
    public static func load(_ hook: Hook.Kind, multiBuffer: Bool = true) throws -> BPFProgram {
        let returnCode = hook.context.returnCode(for: .pass)
        let program = try EBPFListing.assemble { () throws(AssemblerError) in
            var assembler = Assembler()
            assembler.move(.r0, returnCode)
            assembler.exit()
            return try assembler.assemble()
        }
        return try BPFProgram.load(type: hook, instructions: program.encoded, name: "xdpfw_baseline",
                                   xdpFragments: multiBuffer)
    }

    /// Why the kernel's test run refuses `packet` even to `program` (a do-nothing program), nil
    /// when it takes it: (for JSON, for people).
    public static func refusal(of packet: [UInt8], by program: BPFProgram) -> (error: String, reason: String)? {
        do {
            _ = try program.testRun(packet: packet)
            return nil
        } catch {
            let code = error.errno.map { ": \(KernelError.text(errno: $0))" } ?? ""
            return ("the kernel's test run refuses this frame\(code), even for a program that does nothing",
                    "the kernel's test run refuses this \(packet.count)-byte frame\(code), even for a program that does nothing "
                        + "(an IPv4 or IPv6 frame shorter than its network header?)")
        }
    }
}
