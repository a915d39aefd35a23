import CSystemLibraries
import Glibc

/// Reads the records a program writes to a BPF ring buffer map (libbpf's `ring_buffer`), each
/// copied out as bytes.
public final class RingBufferReader {
    private final class Records {
        var taken: [[UInt8]] = []
    }

    private let ring: OpaquePointer
    private let records = Records()

    public init(map: BPFMap) throws(KernelError) {
        guard map.type == .ringBuffer else { throw .invalidArgument("BPF map '\(map.name)' is not a ring buffer") }
        let context = Unmanaged.passUnretained(records).toOpaque()
        let sample: ring_buffer_sample_fn = { context, data, size in
            guard let context, let data else { return 0 }
            let records = Unmanaged<Records>.fromOpaque(context).takeUnretainedValue()
            records.taken.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            return 0
        }
        guard let ring = ring_buffer__new(map.fd, sample, context, nil) else {
            throw .from(errno: xdpfw_errno(), operation: "opening ring buffer '\(map.name)'")
        }
        self.ring = ring
    }

    deinit { ring_buffer__free(ring) }

    /// The records written since the last call, waiting up to `milliseconds` for the first
    /// (0: only what is there now). A signal ends the wait early with what there is.
    public func take(waitingMilliseconds milliseconds: Int32) throws(KernelError) -> [[UInt8]] {
        let result = milliseconds > 0 ? ring_buffer__poll(ring, milliseconds) : ring_buffer__consume(ring)
        if result < 0 && result != -EINTR {
            throw .from(errno: -result, operation: "reading the ring buffer")
        }
        defer { records.taken.removeAll(keepingCapacity: true) }
        return records.taken
    }
}

/// CLOCK_BOOTTIME, the clock of `bpf_ktime_get_boot_ns`, against the wall clock.
public enum BootClock {
    /// Nanoseconds to add to a boot-clock time to get Unix time (now; the clocks drift apart
    /// only by NTP adjustments and suspend).
    public static func unixOffsetNanoseconds() -> Int64 {
        var boot = timespec(), real = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        clock_gettime(CLOCK_REALTIME, &real)
        return (Int64(real.tv_sec) - Int64(boot.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(boot.tv_nsec)
    }
}
