import CSystemLibraries

/// A raw AF_PACKET socket bound to one interface of the current network namespace: sends whole
/// Ethernet frames, receives what arrives. Used by tests to make bounded traffic between their
/// own namespaces.
public final class PacketSocket: @unchecked Sendable {
    let descriptor: OwnedDescriptor
    public let interface: NetworkInterface

    /// Opens the socket in the calling thread's network namespace.
    public init(interface: NetworkInterface) throws(KernelError) {
        let allProtocols = UInt16(ETH_P_ALL).bigEndian
        let fd = try checkLibc(socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(allProtocols)),
                               "opening a packet socket")
        descriptor = OwnedDescriptor(fd)
        self.interface = interface
        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_protocol = allProtocols
        address.sll_ifindex = Int32(bitPattern: interface.index)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, UInt32(MemoryLayout<sockaddr_ll>.size)) }
        }
        try checkLibc(result, "binding a packet socket to \(interface)")
    }

    public func close() { descriptor.close() }

    /// Lets the socket hold `bytes` of frames not yet received (SO_RCVBUFFORCE, root), so a burst
    /// of large frames is not dropped before the test reads it.
    public func reserve(receiveBuffer bytes: Int32) throws(KernelError) {
        var size = bytes
        try checkLibc(setsockopt(descriptor.raw, SOL_SOCKET, SO_RCVBUFFORCE, &size, 4), "setting a packet socket's receive buffer")
    }

    /// Sends one frame (destination MAC first) out of the interface. Returns false when the kernel
    /// dropped it on the way out (ENOBUFS: e.g. a TC egress program said "shot").
    @discardableResult
    public func send(_ frame: [UInt8]) throws(KernelError) -> Bool {
        let sent = frame.withUnsafeBytes { CSystemLibraries.send(descriptor.raw, $0.baseAddress, $0.count, 0) }
        if sent >= 0 { return true }
        let code = xdpfw_errno()
        if code == ENOBUFS { return false }
        throw .from(errno: code, operation: "sending a frame on \(interface)")
    }

    /// Which copies of a frame `receive` returns.
    public enum Direction: Sendable {
        /// Frames arriving on the interface.
        case incoming
        /// Frames the interface sends (on the loopback: every frame, before it comes back in).
        case outgoing
    }

    /// Frames that arrive on the interface (with `.outgoing`, those it sends instead) and satisfy
    /// `matching`, until `limit` of them came or `timeout` passed.
    public func receive(limit: Int, timeout: Duration, direction: Direction = .incoming,
                        matching: ([UInt8]) -> Bool = { _ in true }) throws(KernelError) -> [[UInt8]] {
        var frames = [[UInt8]]()
        // GSO socket buffers (TCP over a veth with TSO) arrive whole: up to 64 KiB and more.
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while frames.count < limit {
            let left = deadline - clock.now
            if left <= .zero { break }
            let (seconds, attoseconds) = left.components
            var wait = timeval(tv_sec: Int(seconds), tv_usec: Int(max(attoseconds / 1_000_000_000_000, 1)))
            try checkLibc(setsockopt(descriptor.raw, SOL_SOCKET, SO_RCVTIMEO, &wait, UInt32(MemoryLayout<timeval>.size)),
                          "setting a receive timeout")
            var from = sockaddr_ll()
            var fromLength = UInt32(MemoryLayout<sockaddr_ll>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(descriptor.raw, bytes.baseAddress, bytes.count, 0, $0, &fromLength)
                    }
                }
            }
            if count < 0 {
                let code = xdpfw_errno()
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                throw .from(errno: code, operation: "receiving on \(interface)")
            }
            if (from.sll_pkttype == UInt8(PACKET_OUTGOING)) != (direction == .outgoing) { continue }
            let frame = Array(buffer[..<count])
            if matching(frame) { frames.append(frame) }
        }
        return frames
    }
}
