import ArgumentParser
import EBPF
import Kernel

/// The kind of eBPF program: XDP (before the stack, on receive) or TC (a classifier on an skb).
enum ProgramHook: String, CaseIterable, ExpressibleByArgument {
    case xdp, tc

    var context: any HookContext { self == .xdp ? XDPHook() : TCHook() }
    var programType: BPFProgramType { self == .xdp ? .xdp : .schedCLS }
}

extension AttachPoint: ExpressibleByArgument {
    var programHook: ProgramHook { self == .xdp ? .xdp : .tc }
}

extension XDPMode: ExpressibleByArgument {}
