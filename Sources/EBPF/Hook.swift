/// Where a program runs: XDP (before the stack, on receive) or a TC classifier at the clsact
/// qdisc's ingress or egress. One notion from the command line to the kernel: `--hook` takes
/// these spellings, the pin directory is named after them (`/sys/fs/bpf/xdpfw/<iface>/<hook>/`),
/// `kind` is the program the kernel loads for the hook, and the kind's `context` is what the
/// code generator needs to know about it.
public enum Hook: String, CaseIterable, Hashable, Sendable {
    case xdp
    case tcIngress = "tc-ingress"
    case tcEgress = "tc-egress"

    /// The program that runs at a hook: an XDP program, or a TC classifier (the same program
    /// runs at ingress and egress).
    public enum Kind: String, CaseIterable, Hashable, Sendable {
        case xdp, tc

        /// The spellings `--hook` takes for a kind: its own, and the hooks': `tc-ingress` and
        /// `tc-egress` run the one TC program, as `tc` does.
        public init?(spelling: String) {
            if let kind = Kind(rawValue: spelling) {
                self = kind
            } else if let hook = Hook(rawValue: spelling) {
                self = hook.kind
            } else {
                return nil
            }
        }

        public static var spellings: [String] { ["xdp", "tc", "tc-ingress", "tc-egress"] }

        /// What the code generator needs to know about the kind: a multi-buffer program at XDP.
        public var context: any HookContext { context(multiBuffer: true) }

        /// At XDP, a single-buffer or multi-buffer program (`XDPHook.multiBuffer`) that may read
        /// a VLAN tag from metadata (`XDPHook.metadataVLANFunction`); TC has one kind of program.
        public func context(multiBuffer: Bool, metadataVLANFunction: Int32? = nil) -> any HookContext {
            switch self {
            case .xdp: XDPHook(multiBuffer: multiBuffer, metadataVLANFunction: metadataVLANFunction)
            case .tc: TCHook()
            }
        }
    }

    public var kind: Kind { self == .xdp ? .xdp : .tc }
}
