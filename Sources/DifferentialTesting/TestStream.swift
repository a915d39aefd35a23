import Foundation
import Glibc
import Kernel

extension TestNetwork {
    /// Sends `payload` over one TCP connection from `side` to the other end's IPv4 address and
    /// `port`, and reads it there. The kernel segments the stream as it likes: over a veth with
    /// TSO the frames are GSO socket buffers of up to 64 KiB whose payload lies in page fragments,
    /// beyond the linear head. Bounded: the payload is at most 64 MiB and every socket call gives
    /// up after `timeout`. Returns the number of bytes that arrived.
    @discardableResult
    public func sendTCP(_ payload: [UInt8], from side: Side, port: UInt16,
                        timeout: Duration = .seconds(10)) throws -> Int {
        guard payload.count <= 64 << 20 else { throw KernelError.invalidArgument("a test may send at most 64 MiB over TCP") }
        let receiver: Side = side == .a ? .b : .a
        let address = try TestNetwork.socketAddress(end(receiver).ipv4, port: port)
        let listener = try run(in: receiver) {
            let socket = try TestNetwork.streamSocket(timeout: timeout)
            var yes: Int32 = 1
            try checked(setsockopt(socket.raw, SOL_SOCKET, SO_REUSEADDR, &yes, 4), "setting SO_REUSEADDR")
            try TestNetwork.withSocketAddress(address) { try checked(bind(socket.raw, $0, $1), "binding to port \(port)") }
            try checked(listen(socket.raw, 1), "listening on port \(port)")
            return socket
        }
        defer { listener.close() }
        let client = try run(in: side) {
            let socket = try TestNetwork.streamSocket(timeout: timeout)
            try TestNetwork.withSocketAddress(address) { try checked(connect(socket.raw, $0, $1), "connecting to port \(port)") }
            return socket
        }
        defer { client.close() }
        let server = StreamSocket(try checked(Glibc.accept(listener.raw, nil, nil), "accepting on port \(port)"))
        defer { server.close() }
        try TestNetwork.setTimeouts(server.raw, timeout)

        let sent = DispatchSemaphore(value: 0)
        let sender = Thread {
            payload.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let count = Glibc.send(client.raw, bytes.baseAddress! + offset, min(bytes.count - offset, 1 << 20), Int32(MSG_NOSIGNAL))
                    if count <= 0 { break }
                    offset += count
                }
            }
            Glibc.shutdown(client.raw, Int32(SHUT_WR))
            sent.signal()
        }
        sender.start()
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while clock.now < deadline {
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(server.raw, $0.baseAddress, $0.count, 0) }
            if count > 0 { received += count; continue }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            break
        }
        Glibc.shutdown(client.raw, Int32(SHUT_RDWR))   // unblocks a sender stuck after a timeout
        sent.wait()
        return received
    }

    private static func streamSocket(timeout: Duration) throws(KernelError) -> StreamSocket {
        let socket = StreamSocket(try checked(Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
                                                   "opening a TCP socket"))
        try setTimeouts(socket.raw, timeout)
        return socket
    }

    private static func setTimeouts(_ socket: Int32, _ timeout: Duration) throws(KernelError) {
        let (seconds, attoseconds) = timeout.components
        var wait = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            try checked(setsockopt(socket, SOL_SOCKET, option, &wait, socklen_t(MemoryLayout<timeval>.size)), "setting a socket timeout")
        }
    }

    private static func socketAddress(_ ipv4: String, port: UInt16) throws(KernelError) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, ipv4, &address.sin_addr) == 1 else { throw .invalidArgument("bad IPv4 address '\(ipv4)'") }
        return address
    }

    private static func withSocketAddress(_ address: sockaddr_in,
                                          _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Int32) throws {
        var copy = address
        _ = try withUnsafePointer(to: &copy) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// A test socket's descriptor, closed exactly once (Kernel keeps its own descriptor owner internal).
private final class StreamSocket: @unchecked Sendable {
    private(set) var raw: Int32
    init(_ raw: Int32) { self.raw = raw }
    func close() {
        if raw >= 0 { _ = Glibc.close(raw); raw = -1 }
    }
    deinit { close() }
}

/// A libc call's result, or the errno it left as a thrown error.
@discardableResult
private func checked(_ result: Int32, _ operation: @autoclosure () -> String) throws(KernelError) -> Int32 {
    if result >= 0 { return result }
    throw KernelError.system(operation: operation(), errno: errno)
}
