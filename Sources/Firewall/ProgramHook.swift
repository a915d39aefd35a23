import EBPF
import Kernel

/// The kind of eBPF program: XDP (before the stack, on receive) or TC (a classifier on an skb).
public enum ProgramHook: String, CaseIterable, Sendable {
    case xdp, tc

    /// `--hook` takes the spellings `apply` takes too: `tc-ingress` and `tc-egress` run the one
    /// TC program, as `tc` does.
    public init?(argument: String) {
        if let hook = ProgramHook(rawValue: argument) {
            self = hook
        } else if let point = AttachPoint(rawValue: argument) {
            self = point.programHook
        } else {
            return nil
        }
    }

    public static var allValueStrings: [String] { ["xdp", "tc", "tc-ingress", "tc-egress"] }

    public var context: any HookContext { context(multiBuffer: true) }
    /// At XDP, a single-buffer or multi-buffer program (`XDPHook.multiBuffer`); TC has one kind.
    public func context(multiBuffer: Bool, metadataVLANFunction: Int32? = nil) -> any HookContext {
        self == .xdp ? XDPHook(multiBuffer: multiBuffer, metadataVLANFunction: metadataVLANFunction) : TCHook()
    }
    public var programType: BPFProgramType { self == .xdp ? .xdp : .schedCLS }
}

extension AttachPoint {
    public var programHook: ProgramHook { self == .xdp ? .xdp : .tc }
}
