import FilterCompiler

/// What a rule does with a packet it matches (and the policy with packets no rule matches).
public enum Verdict: String, CaseIterable, Hashable, Sendable {
    case pass, drop
}

/// Where a hook keeps the frame length the filter's `len` means.
public enum LengthSource: Hashable, Sendable {
    /// `data_end - data`: a single-buffer XDP program's frame is all linear.
    case packetSpan
    /// `bpf_xdp_get_buff_len`: the linear part and every fragment of a multi-buffer frame (XDP).
    case xdpBufferLength
    /// A 32-bit field of the context (`__sk_buff.len`, which counts non-linear data too).
    case contextField(offset: Int16)
}

/// How a hook's filters read packet bytes that lie beyond `data_end`.
public enum NonLinearData: Hashable, Sendable {
    /// None: a single-buffer XDP program (loaded without BPF_F_XDP_HAS_FRAGS) sees whole frames
    /// between `data` and `data_end`; the kernel gives it no others.
    case absent
    /// A socket buffer's page fragments: the prologue pulls the reach of the rules into the
    /// linear head before the filters run (`SocketBufferPull`).
    case pulledIntoHead
    /// A multi-buffer XDP frame's fragments (the program is loaded with BPF_F_XDP_HAS_FRAGS):
    /// a load ending beyond `linearAtLeast` bytes that finds its bytes past `data_end` copies
    /// them with `bpf_xdp_load_bytes` (FilterEmitter's fragment loads). Loads within the first
    /// `linearAtLeast` bytes, and the lookups and classifier (which read headers only), read
    /// the packet directly.
    case copiedOnDemand(linearAtLeast: UInt32)

    /// The bytes of a multi-buffer frame taken to be linear: the headers every lookup and
    /// classifier reads (`PacketReach.lookupGroup`: Ethernet, VLAN tags, the longest IPv4 header,
    /// ports). veth keeps ~3.5 KiB linear; a driver whose first buffer held less would make
    /// loads of these bytes not match (docs/design-ebpf.md, "Known limits").
    public static let headerBytes: UInt32 = 128
}

/// How a hook answers classic BPF's ancillary loads (`ld [proto]`, `ld [type]`...).
public enum AncillarySource: Hashable, Sendable {
    /// A 32-bit context field; `networkOrder16` when it holds a big-endian 16-bit value
    /// (`__sk_buff.protocol`).
    case contextField(offset: Int16, networkOrder16: Bool = false)
    /// A fixed value: the hook has no such metadata, and this is what it would say.
    case constant(UInt32)
    /// The 802.1Q tag the hook found in metadata when the program started (`tci` false: 1 if
    /// there was one, else 0; `tci` true: its TCI). See `MetadataVLAN`.
    case metadataVLANOnEntry(tci: Bool)
    /// The Ethernet type as the Linux stack derives it (`eth_type_trans`): the type field
    /// when it is at least 0x600, else 0x0001 (Novell raw 802.3) or 0x0004 (802.2 LLC).
    case etherTypeFromFrame
}

/// Where a hook's context says that the stack took an 802.1Q tag out of the frame
/// (`__sk_buff.vlan_present` / `vlan_tci`). Filters test VLAN tags inline, as in a capture, so a
/// program at such a hook moves the tag back into the frame before its filters run
/// (`bpf_skb_vlan_push` of a placeholder tag pushes the real one inline) and returns it to
/// metadata before it exits (`bpf_skb_vlan_pop` drops the placeholder and lifts the inline tag
/// back out): the filters see the frame as it was on the wire, and the stack gets it as it was.
public struct MetadataVLAN: Hashable, Sendable {
    public var presentOffset: Int16
    public var tciOffset: Int16
    /// A writable 32-bit context field the programs of a tail-call chain hand the tag's state
    /// on in (`__sk_buff.cb[0]`): the stack does not survive a tail call.
    public var chainStateOffset: Int16
    public init(presentOffset: Int16, tciOffset: Int16, chainStateOffset: Int16) {
        self.presentOffset = presentOffset
        self.tciOffset = tciOffset
        self.chainStateOffset = chainStateOffset
    }
}

/// What the code generator needs to know about a `Hook.Kind` of program, behind one small
/// protocol: where the context keeps the packet pointers and the length, what the verdicts are
/// called, how the metadata classic BPF reads is found. `Hook.Kind.context(...)` makes one.
public protocol HookContext: Sendable {
    /// The kind of program this is the context of (the kernel's program type).
    var kind: Hook.Kind { get }
    /// Offsets in the context of the 32-bit `data` and `data_end` fields.
    var dataOffset: Int16 { get }
    var dataEndOffset: Int16 { get }
    var length: LengthSource { get }
    /// Where the context keeps a VLAN tag taken out of the frame, nil when it cannot (XDP).
    var metadataVLAN: MetadataVLAN? { get }
    /// The kernel function that reads such a tag instead (XDP, device-bound), by BTF id.
    var metadataVLANFunction: Int32? { get }
    /// How the filters reach packet bytes beyond `data_end`, which `len` counts.
    var nonLinearData: NonLinearData { get }
    /// The helper that copies frame bytes out through the context (`bpf_xdp_load_bytes`,
    /// `bpf_skb_load_bytes`), for the drop log.
    var frameCopy: HelperFunction { get }
    /// The program's return value for a verdict.
    func returnCode(for verdict: Verdict) -> Int32
    func ancillary(_ field: AncillaryField) -> AncillarySource
}

/// XDP (`struct xdp_md`): runs before the stack sees the frame, ingress only.
public struct XDPHook: HookContext {
    /// Whether the program is loaded with BPF_F_XDP_HAS_FRAGS and reads frames that continue in
    /// fragments (a device whose MTU needs more than a page takes no other program). A
    /// single-buffer program is cheaper: its `len` is `data_end - data`, where a multi-buffer
    /// one calls `bpf_xdp_get_buff_len` for every packet (docs/design-ebpf.md, "Multi-buffer
    /// frames"); the kernel linearizes frames for it in generic mode and refuses to raise a
    /// native device's MTU past a page while it is attached.
    public var multiBuffer: Bool

    /// The BTF id of `bpf_xdp_metadata_rx_vlan_tag` when the program reads a VLAN tag the NIC
    /// took out of the frame (a device-bound program: loaded for one interface, attached natively
    /// there): the prologue puts the tag back into the frame before the rules run, as at TC, and
    /// takes it out again for a frame that passes. nil: the rules see the frame as the driver
    /// hands it over (test runs, generic mode).
    public var metadataVLANFunction: Int32?

    public init(multiBuffer: Bool, metadataVLANFunction: Int32? = nil) {
        self.multiBuffer = multiBuffer
        self.metadataVLANFunction = metadataVLANFunction
    }
    /// A multi-buffer program: it reads every frame the kernel can give it.
    public init() { self.init(multiBuffer: true) }

    /// The largest MTU for which `apply` attaches a single-buffer program: below what drivers
    /// take without multi-buffer support (veth and mlx5 ~3,500 bytes, Intel ~3,000), above
    /// every common MTU short of jumbo frames.
    public static let singleBufferMTULimit = 3000

    /// The program `apply` attaches to a device whose MTU is `mtu`.
    public static func forDevice(mtu: Int) -> XDPHook { XDPHook(multiBuffer: mtu > singleBufferMTULimit) }

    public var kind: Hook.Kind { .xdp }
    public var dataOffset: Int16 { 0 }           // xdp_md.data
    public var dataEndOffset: Int16 { 4 }        // xdp_md.data_end
    public var length: LengthSource { multiBuffer ? .xdpBufferLength : .packetSpan }
    public var metadataVLAN: MetadataVLAN? { nil }
    /// Multi-buffer: a frame may continue in fragments.
    public var nonLinearData: NonLinearData {
        multiBuffer ? .copiedOnDemand(linearAtLeast: NonLinearData.headerBytes) : .absent
    }
    public var frameCopy: HelperFunction { .xdpLoadBytes }

    public func returnCode(for verdict: Verdict) -> Int32 {
        switch verdict { case .pass: 2 /* XDP_PASS */; case .drop: 1 /* XDP_DROP */ }
    }

    /// XDP has no socket buffer, so the metadata is what the frame and the receive queue say:
    /// - `ifidx`: `xdp_md.ingress_ifindex`.
    /// - `type`: always PACKET_HOST (0). XDP sees only received frames, so `inbound` holds and
    ///   `outbound` (type 4) never does, which is what those keywords mean here; XDP cannot tell
    ///   PACKET_OTHERHOST or broadcast from the device address, and libpcap never uses `type`
    ///   for anything but in/outbound.
    /// - `proto`: the Ethernet type derived from the frame as the stack would.
    /// - `vlanp` / `vlan_tci`: 0. A tag the NIC stripped (rx-vlan offload) is only visible to
    ///   device-bound programs through the `bpf_xdp_metadata_rx_vlan_tag` kfunc; see design.md.
    public func ancillary(_ field: AncillaryField) -> AncillarySource {
        switch field {
        case .interfaceIndex: .contextField(offset: 12)
        case .packetType: .constant(0)
        case .protocolNumber: .etherTypeFromFrame
        case .vlanTag, .vlanTagPresent: .constant(0)
        }
    }
}

/// TC classifier (`struct __sk_buff`, BPF_PROG_TYPE_SCHED_CLS) at clsact ingress or egress.
public struct TCHook: HookContext {
    public init() {}
    public var kind: Hook.Kind { .tc }
    public var dataOffset: Int16 { 76 }          // __sk_buff.data
    public var dataEndOffset: Int16 { 80 }       // __sk_buff.data_end
    public var length: LengthSource { .contextField(offset: 0) }   // __sk_buff.len
    /// At ingress the stack (or the NIC) has taken an 802.1Q/802.1ad tag out of the frame
    /// before TC runs; at egress a VLAN device with tx offload leaves it in metadata too.
    public var metadataVLAN: MetadataVLAN? { MetadataVLAN(presentOffset: 20, tciOffset: 24, chainStateOffset: 48) }
    public var metadataVLANFunction: Int32? { nil }
    /// GSO/GRO socket buffers keep most of their payload in page fragments beyond the head.
    public var nonLinearData: NonLinearData { .pulledIntoHead }
    public var frameCopy: HelperFunction { .skbLoadBytes }

    public func returnCode(for verdict: Verdict) -> Int32 {
        switch verdict { case .pass: 0 /* TC_ACT_OK */; case .drop: 2 /* TC_ACT_SHOT */ }
    }

    /// The socket buffer's own fields, the ones classic BPF's SKF_AD_* loads read; the VLAN
    /// fields as they were when the program started, before the tag was moved inline.
    public func ancillary(_ field: AncillaryField) -> AncillarySource {
        switch field {
        case .packetType: .contextField(offset: 4)                          // pkt_type
        case .protocolNumber: .contextField(offset: 16, networkOrder16: true) // protocol
        case .vlanTagPresent: .metadataVLANOnEntry(tci: false)              // vlan_present
        case .vlanTag: .metadataVLANOnEntry(tci: true)                      // vlan_tci
        case .interfaceIndex: .contextField(offset: 40)                     // ifindex
        }
    }
}

extension HookContext {
    /// `xdp` or `tc`.
    public var name: String { kind.rawValue }
}

extension HookContext where Self == XDPHook {
    public static var xdp: XDPHook { XDPHook() }
}

extension HookContext where Self == TCHook {
    public static var tc: TCHook { TCHook() }
}
