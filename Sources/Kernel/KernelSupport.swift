import CSystemLibraries

/// Facts about the running system that callers check before asking the kernel for something.
public enum KernelSupport {
    /// Effective user id 0: the tests that load programs and attach them need it.
    public static var isRoot: Bool { geteuid() == 0 }
}

/// Runs of BPF programs already under way. XDP and TC programs run inside RCU read-side
/// sections, so after a grace period every run that started before it has finished: then an
/// object only an old program used (a program array of a chain of programs, which the kernel
/// empties when its last user reference goes) can be let go without a packet in flight finding
/// it empty.
public enum ProgramRuns {
    /// Returns once every program run that started before the call has finished (an RCU grace
    /// period, through membarrier). Where the kernel does not offer that (nohz_full), waits
    /// 100 ms, many times what a packet takes through the longest chain (about 34 × 3 ms).
    public static func waitForRunsInProgress() {
        if xdpfw_wait_for_rcu_grace_period() != 0 { usleep(100_000) }
    }
}
