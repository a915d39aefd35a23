import EBPF
import Glibc
import Kernel
import Ruleset

/// The rules xdpfw keeps at one hook of one interface: a loaded ruleset handed to the kernel
/// runtime's `HookInstaller` (pins under `/sys/fs/bpf/xdpfw/<interface>/<hook>/`, attach or
/// atomic replace), and read back as counters named after their rules.
public enum AttachedRuleset {
    /// The record key naming the rules file the ruleset came from (beside the installer's keys).
    public static let fileKey = "file"
    /// The record key saying whether an XDP program is single-buffer or multi-buffer.
    public static let xdpBuffersKey = "xdp-buffers"

    /// What `apply` did.
    public struct Outcome {
        public var installation: HookInstallation
        public var replaced: Bool
        public var instructions: Int
        /// The XDP program reads VLAN tags the NIC took out of frames (device-bound).
        public var readsMetadataVLAN = false
        /// At XDP, the first rule that tests VLAN tags (what `apply`'s note names when they are not read).
        public var ruleTestingVLANTags: Rule?
    }

    /// Loads `ruleset` and attaches it, or swaps it in atomically for the rules already there.
    /// A failure anywhere (verifier, pinning, attaching) leaves the previous rules running.
    /// At XDP the program is a single-buffer one where the interface's MTU fits in a page
    /// (`XDPHook.forDevice`), a multi-buffer one elsewhere or when `multiBuffer` asks for it.
    public static func apply(_ ruleset: Ruleset, text: String, file: String, interface: String,
                      hook: Hook, mode: XDPMode, pinRoot: String, keepCounters: Bool = true,
                      multiBuffer: Bool = false) throws -> Outcome {
        // Name the interface before compiling for nothing; its index tells a re-created one apart later.
        let device = try NetworkInterface(name: interface)
        let multiBuffer = try hook == .xdp && (multiBuffer || XDPHook.forDevice(mtu: device.mtu()).multiBuffer)
        // Rules that test VLAN tags at XDP (not in generic mode, where no driver is asked): a
        // program bound to the device reads a tag its NIC took out of the frame.
        let vlanRule = hook == .xdp ? ruleset.rules.first(where: \.testsVLANTags) : nil
        let vlanFunction = vlanRule != nil && mode != .generic ? KernelFunction.btfID(KernelFunction.xdpMetadataVLANTag) : nil
        let spec = RulesetSpec(ruleset)
        func attach(metadataVLAN: (function: Int32, interface: UInt32)?) throws -> Outcome {
            let before = HookInstallation.find(interface: interface, hook: hook, root: pinRoot)
            let loaded = try LoadedRuleset.load(spec, hook: hook.kind, multiBuffer: multiBuffer, metadataVLAN: metadataVLAN)
            defer { loaded.close() }
            if keepCounters, let before { try carryCounters(from: before, to: loaded) }
            var record = [fileKey: file, HookInstallation.interfaceIndexKey: String(device.index)]
            if hook == .xdp { record[xdpBuffersKey] = multiBuffer ? "multi" : "single" }
            let installation = try HookInstaller.apply(program: loaded.program,
                                                       maps: loaded.loaded.pinnedMaps.merging([.counters: loaded.counters]) { $1 },
                                                       rulesetText: text,
                                                       extraRecord: record,
                                                       interface: interface, hook: hook, mode: mode, root: pinRoot)
            return Outcome(installation: installation, replaced: before?.isAttached ?? false,
                           instructions: loaded.instructionCount, readsMetadataVLAN: loaded.readsMetadataVLAN,
                           ruleTestingVLANTags: vlanRule)
        }
        guard let vlanFunction else { return try attach(metadataVLAN: nil) }
        do {
            return try attach(metadataVLAN: (vlanFunction, device.index))
        } catch where mode == .auto {
            // A device-bound program attaches natively only: where the driver refuses it (or
            // has no native XDP), auto mode goes on as it would without it (generic mode).
            return try attach(metadataVLAN: nil)
        }
    }

    /// Copies the counters of the rules in force that the new ruleset keeps unchanged (and the
    /// policy's, when its verdict is the same) into the new ruleset's counters, before it is
    /// attached: packets the old rules count between this copy and the swap are not carried.
    private static func carryCounters(from before: HookInstallation, to loaded: LoadedRuleset) throws {
        guard let text = before.rulesetText, let old = try? RulesFile.parse(text, file: file(of: before)),
              let oldCounters = try? before.map(.counters) else { return }
        defer { oldCounters.close() }
        let pairs = CounterCarry.slots(old: old.rules.map { ($0.verdict, $0.expression) }, oldPolicy: old.policy,
                                       new: loaded.ruleset.rules.map { ($0.text.verdict, $0.text.expression) },
                                       newPolicy: loaded.ruleset.policy)
        guard !pairs.isEmpty else { return }
        var values: [Int: [[UInt8]]] = [:]
        for entry in try oldCounters.lookupBatchPerCPU() where entry.key.count == 4 {
            values[Int(UInt32(entry.key[0]) | UInt32(entry.key[1]) << 8 | UInt32(entry.key[2]) << 16 | UInt32(entry.key[3]) << 24)] = entry.values
        }
        for (from, to) in pairs {
            guard let counts = values[from], counts.contains(where: { $0.contains { $0 != 0 } }) else { continue }
            try loaded.counters.update(key: BPFMap.key(index: UInt32(to)), perCPUValues: counts)
        }
    }

    /// Detaches xdpfw's rules at each of `hooks` where it has some and removes their pins,
    /// telling `detached` of each as it goes. False when there were none.
    public static func detach(interface: String, hooks: [Hook], pinRoot: String,
                              detached: (Hook) -> Void) throws -> Bool {
        var any = false
        for hook in hooks where try HookInstaller.detach(interface: interface, hook: hook, root: pinRoot) {
            detached(hook)
            any = true
        }
        return any
    }

    /// Removes a namespace's pin root and /sys/fs/bpf/xdpfw/netns when they hold nothing.
    public static func removeEmptyPinRoot(_ root: String) {
        for directory in [root, PinDirectory.defaultRoot + "/netns"] {
            try? PinDirectory.removeIfEmpty(directory)
        }
    }

    /// The rules file an installation came from, as given to `apply`.
    public static func file(of installation: HookInstallation) -> String {
        installation.record[fileKey] ?? "rules.conf"
    }

    /// How many programs the rules run as: the size of the pinned program array of a chained
    /// ruleset (`MapName.chunks`), 1 without one.
    public static func programCount(of installation: HookInstallation) -> Int {
        guard let chain = try? installation.map(.chunks) else { return 1 }
        defer { chain.close() }
        return chain.maxEntries
    }

    /// The pinned ruleset text and its counters, named after their rules.
    public static func statistics(of installation: HookInstallation) throws -> HookStatistics {
        let file = file(of: installation)
        guard let text = installation.rulesetText else {
            throw CommandFailure("\(installation.directory.path): the ruleset text is missing; apply the rules again")
        }
        let rules = try RulesFile.parse(text, file: file)
        let map = try installation.map(.counters)
        defer { map.close() }
        return HookStatistics(
            interface: installation.interface, hook: installation.hook.rawValue, file: file, policy: rules.policy,
            policyCounter: try Counter(map: map, slot: Ruleset.counterSlot(ofRuleIndex: nil)),
            rules: try rules.rules.map { ($0, try Counter(map: map, slot: Ruleset.counterSlot(ofRuleIndex: $0.index))) },
            state: installation.state, stateReason: installation.stateReason)
    }
}
