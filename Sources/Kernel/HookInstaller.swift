import CSystemLibraries

/// Puts a program at a hook of an interface and takes it away again, keeping the pin directory
/// in step, so that a failed apply leaves the previous state in place.
///
/// apply: pins the new program, maps and ruleset text under temporary names, attaches (XDP: the
/// pinned bpf_link is updated atomically; TC: the filter with xdpfw's handle and priority is
/// replaced in place), and only then renames the new pins over the old ones.
public enum HookInstaller {
    /// Attaches `program` at `hook` of `interface` (in the current network namespace), pinning it,
    /// `maps` (by entry name, e.g. `PinDirectory.Entry.counters`) and `rulesetText`.
    @discardableResult
    public static func apply(program: BPFProgram, maps: [String: BPFMap] = [:], rulesetText: String,
                             interface name: String, hook: AttachPoint, mode: XDPMode = .auto,
                             root: String = PinDirectory.defaultRoot) throws(KernelError) -> HookInstallation {
        let interface = try NetworkInterface(name: name)
        let info = try program.info()
        guard info.type == (hook == .xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS).rawValue else {
            throw .invalidArgument("program '\(info.name)' is not a \(hook == .xdp ? "XDP" : "TC (sched_cls)") program")
        }
        let reserved = [PinDirectory.Entry.program, PinDirectory.Entry.link, PinDirectory.Entry.ruleset, PinDirectory.Entry.attachment]
        if let clash = maps.keys.first(where: { reserved.contains($0) || $0.contains(".") || $0.contains("/") || $0.hasSuffix("-new") }) {
            throw .invalidArgument("cannot pin a map as '\(clash)'")
        }
        let directory = PinDirectory(interface: name, hook: hook, root: root)
        try directory.create()

        // Stage the new pins beside the old ones.
        var staged = [String]()
        func stage(_ entry: String, _ pin: (String) throws(KernelError) -> Void) throws(KernelError) {
            let path = directory.path(of: entry + "-new")
            try BPFFileSystem.unpin(path)
            try pin(path)
            staged.append(entry)
        }
        do {
            try stage(PinDirectory.Entry.program) { (path) throws(KernelError) in try program.pin(at: path) }
            for (entry, map) in maps.sorted(by: { $0.key < $1.key }) {
                try stage(entry) { (path) throws(KernelError) in try map.pin(at: path) }
            }
            try stage(PinDirectory.Entry.ruleset) { (path) throws(KernelError) in try PinnedText.write(rulesetText, at: path) }
            var record: [String: String]
            switch hook {
            case .xdp:
                record = try attachXDP(program, interface: interface, mode: mode, directory: directory)
            case .tcIngress, .tcEgress:
                record = try attachTC(program, interface: interface, directory: directory)
            }
            record["interface"] = name
            record["hook"] = hook.rawValue
            try directory.writeRecord(record)
        } catch {
            for entry in staged { try? BPFFileSystem.unpin(directory.path(of: entry + "-new")) }
            if directory.entries.isEmpty { try? directory.remove() }
            throw error
        }
        // The new program runs: make the pins say so. Maps no longer used are dropped.
        for entry in directory.entries where !reserved.contains(entry) && !entry.hasSuffix("-new") && maps[entry] == nil {
            try BPFFileSystem.unpin(directory.path(of: entry))
        }
        for entry in staged {
            try BPFFileSystem.rename(directory.path(of: entry + "-new"), to: directory.path(of: entry))
        }
        return HookInstallation.read(directory)
    }

    /// XDP: update the pinned link in place, or make and pin a new one.
    private static func attachXDP(_ program: BPFProgram, interface: NetworkInterface, mode: XDPMode,
                                  directory: PinDirectory) throws(KernelError) -> [String: String] {
        let linkPath = directory.path(of: PinDirectory.Entry.link)
        if let link = try? XDPAttachment.fromPinned(linkPath) {
            defer { link.close() }
            if link.programID != 0 && link.interface.index == interface.index && (mode == .auto || mode == link.mode) {
                try link.replace(with: program)
                return ["mode": link.mode.rawValue]
            }
            // Defunct (interface recreated) or a different mode asked for: start over.
            try? link.detach()
            try BPFFileSystem.unpin(linkPath)
        }
        let link = try XDPAttachment.attach(program, to: interface, mode: mode)
        defer { link.close() }  // unpinned, closing detaches: a failure below undoes the attach
        try link.pin(at: linkPath)
        return ["mode": link.mode.rawValue]
    }

    /// TC: make sure clsact exists, then attach (replacing xdpfw's filter in place).
    private static func attachTC(_ program: BPFProgram, interface: NetworkInterface,
                                 directory: PinDirectory) throws(KernelError) -> [String: String] {
        let previous = try directory.record()
        let created = try TCAttachment.createClsact(on: interface)
        let attachment = TCAttachment(interface: interface, direction: directory.hook == .tcIngress ? .ingress : .egress)
        do { try attachment.attach(program) } catch {
            if created { try? TCAttachment.destroyClsact(on: interface) }
            throw error
        }
        // Remember whether xdpfw made the qdisc: only then may detach remove it.
        let ownsQdisc = created || previous["clsact"] == "created" || siblingOwnsQdisc(directory)
        return ["clsact": ownsQdisc ? "created" : "existing",
                "handle": String(attachment.handle), "priority": String(attachment.priority)]
    }

    private static func sibling(_ directory: PinDirectory) -> PinDirectory {
        PinDirectory(interface: directory.interface, hook: directory.hook == .tcIngress ? .tcEgress : .tcIngress,
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
    public static func detach(interface name: String, hook: AttachPoint,
                              root: String = PinDirectory.defaultRoot) throws(KernelError) -> Bool {
        let directory = PinDirectory(interface: name, hook: hook, root: root)
        guard directory.exists else { return false }
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
