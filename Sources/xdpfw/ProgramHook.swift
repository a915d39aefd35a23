import ArgumentParser
import EBPF
import Kernel

/// The kind of eBPF program: XDP (before the stack, on receive) or TC (a classifier on an skb).
enum ProgramHook: String, CaseIterable, ExpressibleByArgument {
    case xdp, tc

    /// `--hook` takes the spellings `apply` takes too: `tc-ingress` and `tc-egress` run the one
    /// TC program, as `tc` does.
    init?(argument: String) {
        if let hook = ProgramHook(rawValue: argument) {
            self = hook
        } else if let point = AttachPoint(argument: argument) {
            self = point.programHook
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] { ["xdp", "tc", "tc-ingress", "tc-egress"] }

    var context: any HookContext { context(multiBuffer: true) }
    /// At XDP, a single-buffer or multi-buffer program (`XDPHook.multiBuffer`); TC has one kind.
    func context(multiBuffer: Bool, metadataVLANFunction: Int32? = nil) -> any HookContext {
        self == .xdp ? XDPHook(multiBuffer: multiBuffer, metadataVLANFunction: metadataVLANFunction) : TCHook()
    }
    var programType: BPFProgramType { self == .xdp ? .xdp : .schedCLS }
}

extension AttachPoint: ExpressibleByArgument {
    var programHook: ProgramHook { self == .xdp ? .xdp : .tc }
}

extension XDPMode: ExpressibleByArgument {}
