import CSystemLibraries

extension BPFProgram {
    /// Sends `frame` out of `interface` `count` times at the speed the kernel can: the kernel's
    /// live-frames test run (BPF_F_TEST_XDP_LIVE_FRAMES) runs this XDP program once per frame as
    /// if it had arrived on `interface`, and a program returning XDP_TX sends each copy back out
    /// of it, through the driver's `ndo_xdp_xmit` (a veth hands it to its peer). Call it from
    /// the interface's network namespace. The peer needs NAPI to take the frames: an XDP program
    /// on it, or GRO on. Returns the wall time of the run (the kernel reports none for live runs).
    public func transmitLive(frame: [UInt8], count: UInt32, interface: NetworkInterface,
                             batchSize: UInt32 = 64) throws(KernelError) -> Duration {
        guard type == .xdp else { throw .invalidArgument("live frames need an XDP program, '\(name)' is \(type.displayName)") }
        guard frame.count >= 14, frame.count <= type.testRunLinearLimit else {
            throw .invalidArgument("a live frame has 14 to \(type.testRunLinearLimit) bytes, this one \(frame.count)")
        }
        var context = xdp_md()
        context.data_end = UInt32(frame.count)
        context.ingress_ifindex = interface.index
        var input = frame
        let clock = ContinuousClock()
        let start = clock.now
        try withZeroedOptions(bpf_test_run_opts.self, size: \.sz) { (opts) throws(KernelError) in
            let result = input.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &context) { contextPointer in
                    opts.pointee.data_in = UnsafeRawPointer(bytes.baseAddress!)
                    opts.pointee.data_size_in = UInt32(bytes.count)
                    opts.pointee.ctx_in = UnsafeRawPointer(contextPointer)
                    opts.pointee.ctx_size_in = UInt32(MemoryLayout<xdp_md>.size)
                    opts.pointee.repeat = Int32(count)
                    opts.pointee.flags = UInt32(BPF_F_TEST_XDP_LIVE_FRAMES)
                    opts.pointee.batch_size = batchSize
                    return bpf_prog_test_run_opts(fd, opts)
                }
            }
            try check(result, "sending live frames out of \(interface) (BPF_PROG_TEST_RUN, live frames)")
        }
        return clock.now - start
    }
}
