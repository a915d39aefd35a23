import CSystemLibraries
import EBPF

/// Puts a program at a hook of an interface and takes it away again, keeping the pin directory
/// in step, so that a failed apply leaves the previous state in place.
///
/// apply: pins the new program, maps, ruleset text and attachment record under temporary names,
/// attaches (XDP: the pinned bpf_link is updated atomically; TC: the filter with xdpfw's handle and
/// priority is replaced in place), and only then renames the new pins over the old ones. A failure
/// at any step, the attach or after it, is rolled back: the previous program is attached again (or,
/// on a first attach, the new one detached and a clsact qdisc this call made removed) and the pins
/// are put back as they were. Nothing is half-applied.
public enum HookInstaller {
    /// Record keys the installer writes itself.
    static let recordKeys = ["interface", "hook", "mode", "native-refused", "clsact", "handle", "priority"]

    /// Attaches `program` at `hook` of `interface` (in the current network namespace), pinning it,
    /// `maps` (each under its name's pin entry, e.g. `.counters`) and `rulesetText`. `extraRecord`
    /// adds the caller's own `key=value` lines to the attachment record. Changing the mode of a live
    /// XDP attachment is refused (detach first).
    ///
    /// `postAttachStep` runs after the new program is attached, before each pin is renamed (with
    /// the entry's name); a throw there is rolled back like any other failure (tests use it).
    @discardableResult
    public static func apply(program: BPFProgram, maps: [MapName: BPFMap] = [:], rulesetText: String,
                             extraRecord: [String: String] = [:],
                             interface name: String, hook: Hook, mode: XDPMode = .auto,
                             root: String = PinDirectory.defaultRoot,
                             postAttachStep: (String) throws(KernelError) -> Void = { _ in }) throws(KernelError) -> HookInstallation {
        let interface = try NetworkInterface(name: name)
        let info = try program.info()
        guard info.type == hook.kind.kernelType.rawValue else {
            throw .invalidArgument("program '\(info.name)' is not a \(hook == .xdp ? "XDP" : "TC (sched_cls)") program")
        }
        let reserved = [PinDirectory.Entry.program, PinDirectory.Entry.link, PinDirectory.Entry.ruleset, PinDirectory.Entry.attachment]
        if let clash = maps.keys.map(\.pinEntry).first(where: { reserved.contains($0) || $0.contains(".") || $0.contains("/") || $0.hasSuffix("-new") }) {
            throw .invalidArgument("cannot pin a map as '\(clash)'")
        }
        if let clash = extraRecord.first(where: { recordKeys.contains($0.key) || $0.key.isEmpty
                                                  || ($0.key + $0.value).contains("\n") || $0.key.contains("=") }) {
            throw .invalidArgument("cannot record '\(clash.key)=\(clash.value)' in the attachment record")
        }
        let directory = PinDirectory(interface: name, hook: hook, root: root)
        try directory.create()

        let transaction = HookTransaction(directory)
        defer { transaction.close() }
        do {
            try transaction.stage(PinDirectory.Entry.program) { (path) throws(KernelError) in try program.pin(at: path) }
            for (name, map) in maps.sorted(by: { $0.key.pinEntry < $1.key.pinEntry }) {
                try transaction.stage(name.pinEntry) { (path) throws(KernelError) in try map.pin(at: path) }
            }
            try transaction.stage(PinDirectory.Entry.ruleset) { (path) throws(KernelError) in try PinnedText.write(rulesetText, at: path) }
            var record = extraRecord
            record["interface"] = name
            record["hook"] = hook.rawValue
            switch hook {
            case .xdp:
                try attachXDP(program, interface: interface, mode: mode, record: record, transaction)
            case .tcIngress, .tcEgress:
                try attachTC(program, interface: interface, record: record, transaction)
            }
            // The new program runs: make the pins say so. Maps no longer used are dropped.
            try transaction.commit(reserved: reserved, step: postAttachStep)
        } catch {
            let failures = transaction.rollback()
            guard failures.isEmpty else {
                throw .invalidArgument("\(error); undoing the apply also failed (see `xdpfw status`): "
                                       + failures.map(\.description).joined(separator: "; "))
            }
            throw error
        }
        return HookInstallation.read(directory)
    }

    /// XDP: update the pinned link in place, or make and pin a new one.
    private static func attachXDP(_ program: BPFProgram, interface: NetworkInterface, mode: XDPMode,
                                  record: [String: String], _ transaction: HookTransaction) throws(KernelError) {
        let directory = transaction.directory
        let linkPath = directory.path(of: PinDirectory.Entry.link)
        var record = record
        if let link = try? XDPAttachment.fromPinned(linkPath) {
            if link.programID != 0 && link.interface.index == interface.index {
                // Changing the mode means detaching first: refuse, rather than leave the interface
                // without rules if the new mode then fails to attach.
                if mode != .auto && mode != link.mode {
                    let current = link.mode == .auto ? "a mode not visible from here" : "\(link.mode.rawValue) mode"
                    throw .invalidArgument("\(interface) has xdpfw rules attached in \(current); to change to "
                                           + "\(mode.rawValue) mode, run `xdpfw detach \(interface.name) --hook xdp` first")
                }
                let old = try BPFProgram.fromID(link.programID)
                record["mode"] = link.mode == .auto ? (try directory.record())["mode"] ?? "auto" : link.mode.rawValue
                try transaction.stageRecord(record)
                try link.replace(with: program)
                transaction.onRollback { () throws(KernelError) in try link.replace(with: old, expected: program) }
                return
            }
            // Defunct (interface recreated): nothing runs through it, start over.
            defer { link.close() }
            try? link.detach()
            try transaction.unpin(PinDirectory.Entry.link)
        }
        record["mode"] = mode == .auto ? XDPMode.native.rawValue : mode.rawValue
        try transaction.stageRecord(record)
        let link = try XDPAttachment.attach(program, to: interface, mode: mode)
        transaction.onRollback { () throws(KernelError) in try link.detach() }
        try link.pin(at: linkPath)
        if link.mode.rawValue != record["mode"] {  // auto fell back to generic
            record["mode"] = link.mode.rawValue
            record["native-refused"] = link.nativeRefusal
            try transaction.stageRecord(record)
        }
    }

    /// TC: make sure clsact exists, then attach (replacing xdpfw's filter in place).
    private static func attachTC(_ program: BPFProgram, interface: NetworkInterface,
                                 record: [String: String], _ transaction: HookTransaction) throws(KernelError) {
        let directory = transaction.directory
        let previous = try directory.record()
        let created = try TCAttachment.createClsact(on: interface)
        if created { transaction.onRollback { () throws(KernelError) in try TCAttachment.destroyClsact(on: interface) } }
        let attachment = TCAttachment(interface: interface, direction: directory.hook.tcDirection)
        let old = try attachment.programID().map { (id) throws(KernelError) in try BPFProgram.fromID(id) }
        // Remember whether xdpfw made the qdisc: only then may detach remove it.
        let ownsQdisc = created || previous["clsact"] == "created" || siblingOwnsQdisc(directory)
        var record = record
        record["clsact"] = ownsQdisc ? "created" : "existing"
        record["handle"] = String(attachment.handle)
        record["priority"] = String(attachment.priority)
        try transaction.stageRecord(record)
        try attachment.attach(program)
        transaction.onRollback { () throws(KernelError) in
            if let old {
                try attachment.attach(old)
            } else {
                try attachment.detach()
            }
        }
    }

    private static func sibling(_ directory: PinDirectory) -> PinDirectory {
        PinDirectory(interface: directory.interface, hook: directory.hook.tcDirection == .ingress ? .tcEgress : .tcIngress,
                     root: directory.root)
    }

    private static func siblingOwnsQdisc(_ directory: PinDirectory) -> Bool {
        let other = sibling(directory)
        return other.exists && ((try? other.record())?["clsact"] == "created")
    }

    /// Removes xdpfw's program from `hook` of `interface` and its pins. Returns false when xdpfw
    /// had nothing there. The clsact qdisc goes only if xdpfw created it and no other xdpfw TC
    /// hook on the interface still uses it.
    @discardableResult
    public static func detach(interface name: String, hook: Hook,
                              root: String = PinDirectory.defaultRoot) throws(KernelError) -> Bool {
        let directory = PinDirectory(interface: name, hook: hook, root: root)
        guard directory.exists else { return false }
        // A chain's program array is held until packets still running the detached chain are
        // done with it (the kernel empties it when its last user reference goes).
        let chain = try? OwnedDescriptor(openPinned(directory.path(of: MapName.chunks)))
        defer {
            if let chain {
                ProgramRuns.waitForRunsInProgress()
                chain.close()
            }
        }
        switch hook {
        case .xdp:
            if let link = try? XDPAttachment.fromPinned(directory.path(of: PinDirectory.Entry.link)) {
                defer { link.close() }
                try link.detach()
            }
        case .tcIngress, .tcEgress:
            let record = try directory.record()
            // A vanished interface took its filters and qdisc with it.
            if let attachment = try? directory.tcAttachment() {
                try attachment.detach()
                if record["clsact"] == "created" {
                    let other = sibling(directory)
                    if other.exists, HookInstallation.read(other).isAttached {
                        var otherRecord = try other.record()
                        otherRecord["clsact"] = "created"
                        try other.writeRecord(otherRecord)
                    } else {
                        try TCAttachment.destroyClsact(on: attachment.interface)
                    }
                }
            }
        }
        try directory.remove()
        return true
    }
}
