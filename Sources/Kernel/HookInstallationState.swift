/// The kernel's view of a hook against xdpfw's pins, asked afresh every time an installation is
/// read: a pinned link or program outlives the interface it was attached to, so the pins alone
/// would report rules in force on an interface that was deleted (or deleted and re-created).
extension HookInstallation {
    mutating func compareWithKernel() {
        let current = try? NetworkInterface(name: interface)
        let recordedIndex = record[HookInstallation.interfaceIndexKey].flatMap { UInt32($0) }
        switch hook {
        case .xdp:
            guard let link = try? XDPAttachment.fromPinned(directory.path(of: PinDirectory.Entry.link)) else {
                return settle(.notAttached, "the pinned XDP link is missing", current: current, appliedIndex: recordedIndex)
            }
            defer { link.close() }
            // The kernel detaches a link from an interface being deleted: it then reports ifindex 0
            // (and still names its program).
            let linkIndex = link.interface.index
            let running: UInt32
            if linkIndex != 0, current == nil {
                // Live, on an interface this network namespace cannot see (read from another
                // namespace, or renamed): the link is the kernel's view.
                running = link.programID
            } else {
                guard settle(current: current, appliedIndex: linkIndex) else { return }
                running = (try? XDPAttachment.query(current!).programID) ?? 0
            }
            guard let expected = expectedProgram(linkProgram: link.programID, running: running) else { return }
            attachedProgramID = expected
            state = .attached
            xdpMode = link.mode == .auto ? record["mode"].flatMap(XDPMode.init(rawValue:)) : link.mode
        case .tcIngress, .tcEgress:
            guard settle(current: current, appliedIndex: recordedIndex) else { return }
            let running = (try? directory.tcAttachment().programID()) ?? nil
            guard let expected = expectedProgram(linkProgram: nil, running: running ?? 0) else { return }
            attachedProgramID = expected
            state = .attached
        }
    }

    /// Settles `.interfaceGone` when there is no interface of this name, or it has another index
    /// than the one the rules were applied to. Returns true when the interface is the same one.
    private mutating func settle(current: NetworkInterface?, appliedIndex: UInt32?) -> Bool {
        guard let current else {
            state = .interfaceGone
            stateReason = "no interface \(interface) here"
            return false
        }
        if let appliedIndex, appliedIndex != current.index {
            state = .interfaceGone
            stateReason = appliedIndex == 0
                ? "\(interface) was deleted; the \(interface) here now is another interface (re-created)"
                : "\(interface) is another interface now (index \(current.index), the rules were applied to index \(appliedIndex): re-created?)"
            return false
        }
        return true
    }

    private mutating func settle(_ state: State, _ reason: String, current: NetworkInterface?, appliedIndex: UInt32?) {
        if settle(current: current, appliedIndex: appliedIndex) {
            self.state = state
            stateReason = reason
        }
    }

    /// The program id the kernel runs when it is xdpfw's pinned program (and the pinned link's),
    /// nil otherwise with the state and reason settled.
    private mutating func expectedProgram(linkProgram: UInt32?, running: UInt32) -> UInt32? {
        state = .notAttached
        guard running != 0 else {
            stateReason = "no program at \(hook.rawValue) of \(interface)"
            return nil
        }
        guard let pinned = program?.id, pinned == running, linkProgram == nil || linkProgram == running else {
            let pinned = program.map { "program \($0.id)" } ?? "no pinned program"
            stateReason = "\(interface) runs program \(running) at \(hook.rawValue), not xdpfw's (\(pinned))"
            return nil
        }
        stateReason = nil
        return running
    }
}
