import Glibc

/// Set by the handler `StopSignal.install` puts in place.
nonisolated(unsafe) private var receivedSignal: Int32 = 0

/// Signals (SIGTERM, SIGINT) that ask a long-running verb (`exporter`, `apply --watch`) to stop
/// rather than end the process: the handler only records the signal, and a blocked `accept`,
/// `poll` or `read` returns (no SA_RESTART), so the verb finishes what it does and cleans up.
public enum StopSignal {
    public static func install(_ signals: [Int32]) {
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { receivedSignal = $0 }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }

    /// The signal that asked to stop, 0 while none did.
    public static var received: Int32 { receivedSignal }
}
