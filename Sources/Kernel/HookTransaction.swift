import CSystemLibraries
import EBPF

/// One `HookInstaller.apply`: the new pins staged as `<entry>-new`, the kernel changes made so far
/// (each with the step that undoes it), and the pins as they were before, held open so that a
/// failure anywhere — before, during or after the attach — puts everything back.
final class HookTransaction {
    let directory: PinDirectory
    /// Entries pinned as `<entry>-new`, renamed over `<entry>` by `commit`.
    private(set) var staged = [String]()
    private var undoSteps = [() throws(KernelError) -> Void]()
    /// The objects pinned in the directory before this apply, by entry name.
    private var previous = [String: OwnedDescriptor]()
    /// Old entries this apply unpinned or renamed over: rollback pins those again.
    private var replaced = Set<String>()

    init(_ directory: PinDirectory) {
        self.directory = directory
        for entry in directory.entries where !entry.hasSuffix("-new") {
            if let fd = try? openPinned(directory.path(of: entry)) { previous[entry] = OwnedDescriptor(fd) }
        }
    }

    /// Pins a new object as `<entry>-new` beside the old one. Staging the same entry again (the
    /// attachment record, once XDP's auto mode knows the mode it got) replaces the staged pin:
    /// `commit` renames each entry once.
    func stage(_ entry: String, _ pin: (String) throws(KernelError) -> Void) throws(KernelError) {
        let path = directory.path(of: entry + "-new")
        try BPFFileSystem.unpin(path)
        if !staged.contains(entry) { staged.append(entry) }
        try pin(path)
    }

    /// Stages the attachment record (written before the attach, so that after it only renames remain).
    func stageRecord(_ record: [String: String]) throws(KernelError) {
        try stage(PinDirectory.Entry.attachment) { (_) throws(KernelError) in
            try directory.writeRecord(record, PinDirectory.Entry.attachment + "-new")
        }
    }

    /// Unpins an old entry (pinned again by `rollback`).
    func unpin(_ entry: String) throws(KernelError) {
        replaced.insert(entry)
        try BPFFileSystem.unpin(directory.path(of: entry))
    }

    /// Remembers how to undo a kernel change just made; undo steps run newest first.
    func onRollback(_ undo: @escaping () throws(KernelError) -> Void) { undoSteps.append(undo) }

    /// Makes the pins name the new objects: drops entries that are neither reserved, staged nor
    /// in `keep`, then renames each staged pin over the old one. `step` runs before each rename.
    func commit(reserved: [String], step: (String) throws(KernelError) -> Void) throws(KernelError) {
        for entry in directory.entries where !entry.hasSuffix("-new") && !reserved.contains(entry) && !staged.contains(entry) {
            try unpin(entry)
        }
        for entry in staged {
            try step(entry)
            replaced.insert(entry)
            try BPFFileSystem.rename(directory.path(of: entry + "-new"), to: directory.path(of: entry))
        }
    }

    /// Undoes the kernel changes (newest first) and puts the pins back as they were. Returns what
    /// could not be undone.
    func rollback() -> [KernelError] {
        var failures = [KernelError]()
        for undo in undoSteps.reversed() {
            do { try undo() } catch { failures.append(error) }
        }
        undoSteps = []
        for entry in directory.entries {
            guard entry.hasSuffix("-new") || previous[entry] == nil else { continue }
            do { try BPFFileSystem.unpin(directory.path(of: entry)) } catch { failures.append(error) }
        }
        for (entry, object) in previous.sorted(by: { $0.key < $1.key }) where replaced.contains(entry) {
            let path = directory.path(of: entry)
            do {
                try BPFFileSystem.unpin(path)
                try pinObject(fd: object.raw, at: path)
            } catch { failures.append(error) }
        }
        if directory.entries.isEmpty { try? directory.remove() }
        return failures
    }

    /// Lets go of the old objects (their pins, if any, keep them alive). A program array this
    /// apply replaced is held until packets already running the old chain have finished with it
    /// (the kernel empties it when its last user reference goes; the old program's other maps
    /// live as long as the program).
    func close() {
        let chain = MapName.chunks.pinEntry
        if replaced.contains(chain) && previous[chain] != nil { ProgramRuns.waitForRunsInProgress() }
        for object in previous.values { object.close() }
        previous = [:]
    }
}
