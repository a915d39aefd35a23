import CSystemLibraries

/// Facts about the running system that callers check before asking the kernel for something.
public enum KernelSupport {
    /// Effective user id 0: the tests that load programs and attach them need it.
    public static var isRoot: Bool { geteuid() == 0 }
}
