import Foundation
import Glibc
import PacketFormats

/// Real traffic through the loopback of the calling thread's network namespace, made by the
/// kernel's own stack (not hand-built frames): UDP datagrams and a TCP connection to listeners on
/// 127.0.0.1, and ICMP echo requests the kernel answers. Every call is bounded in count and time.
/// Tests run it inside a namespace of their own (`TestNetwork.run(in:)`), never the host's.
public enum LoopbackTraffic {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A UDP socket bound to 127.0.0.1:`port`, counting the datagrams that reach it.
    public final class UDPListener {
        let socket: Int32

        public init(port: UInt16) throws {
            socket = try LoopbackTraffic.open(SOCK_DGRAM, IPPROTO_UDP)
            do {
                try LoopbackTraffic.withLoopback(port: port) { try LoopbackTraffic.check(bind(socket, $0, $1), "binding UDP port \(port)") }
            } catch {
                _ = Glibc.close(socket)
                throw error
            }
        }

        /// Datagrams waiting, read without blocking.
        public func received() -> Int {
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while count < 100_000, buffer.withUnsafeMutableBytes({ recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) >= 0 {
                count += 1
            }
            return count
        }

        public func close() { _ = Glibc.close(socket) }
    }

    /// Sends `count` datagrams of `size` bytes to 127.0.0.1:`port` (at most 10,000).
    public static func sendUDP(count: Int, size: Int, to port: UInt16) throws {
        guard count <= 10_000, size <= 1_400 else { throw Failure(description: "at most 10,000 datagrams of 1,400 bytes") }
        let socket = try open(SOCK_DGRAM, IPPROTO_UDP)
        defer { close(socket) }
        let payload = [UInt8](repeating: 0x55, count: size)
        for _ in 0..<count {
            try withLoopback(port: port) { address, length in
                try check(Int32(payload.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, 0, address, length) }),
                          "sending a UDP datagram to port \(port)")
            }
        }
    }

    /// Opens a TCP connection to a listener on 127.0.0.1:`port`, sends `bytes` bytes, closes both
    /// ends, and returns how many bytes the listener read (within `timeout`).
    @discardableResult
    public static func sendTCP(bytes: Int, to port: UInt16, timeout: TimeInterval = 5) throws -> Int {
        let listener = try open(SOCK_STREAM, IPPROTO_TCP, timeout: timeout)
        defer { close(listener) }
        var yes: Int32 = 1
        _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, 4)
        try withLoopback(port: port) { try check(bind(listener, $0, $1), "binding TCP port \(port)") }
        try check(listen(listener, 1), "listening on TCP port \(port)")
        let client = try open(SOCK_STREAM, IPPROTO_TCP, timeout: timeout)
        defer { close(client) }
        try withLoopback(port: port) { try check(connect(client, $0, $1), "connecting to TCP port \(port)") }
        let server = try check(accept(listener, nil, nil), "accepting on TCP port \(port)")
        defer { close(server) }
        let payload = [UInt8](repeating: 0x61, count: bytes)
        _ = payload.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(client, Int32(SHUT_WR))
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(server, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += count
        }
        shutdown(server, Int32(SHUT_RDWR))
        return received
    }

    /// Sends `count` ICMP echo requests (56 bytes of data, as ping) to 127.0.0.1 through a raw
    /// socket and returns how many replies came back within `timeout` each.
    @discardableResult
    public static func ping(count: Int, timeout: TimeInterval = 0.3) throws -> Int {
        guard count <= 1_000 else { throw Failure(description: "at most 1,000 echo requests") }
        let socket = try open(SOCK_RAW, IPPROTO_ICMP, timeout: timeout)
        defer { close(socket) }
        var replies = 0
        for sequence in 0..<count {
            var request: [UInt8] = [8, 0, 0, 0, 0x78, 0x66, UInt8(sequence >> 8), UInt8(sequence & 0xff)]
                + [UInt8](repeating: 0x70, count: 56)
            InternetChecksum.fill(&request, at: Protocols.ICMP.checksumField)
            try withLoopback(port: 0) { address, length in
                try check(Int32(request.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, 0, address, length) }),
                          "sending an ICMP echo request")
            }
            // A raw ICMP socket also gets our own request back: look for the reply (type 0).
            var buffer = [UInt8](repeating: 0, count: 2_048)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let length = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard length > 0 else { break }
                let header = Int(buffer[0] & 0x0f) * 4
                if length >= header + 8, buffer[header] == 0, buffer[header + 6] == UInt8(sequence >> 8),
                   buffer[header + 7] == UInt8(sequence & 0xff) {
                    replies += 1
                    break
                }
            }
        }
        return replies
    }

    static func open(_ type: __socket_type, _ proto: Int, timeout: TimeInterval = 2) throws -> Int32 {
        let socket = try check(Glibc.socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(proto)),
                               "opening a socket")
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            _ = setsockopt(socket, SOL_SOCKET, option, &wait, socklen_t(MemoryLayout<timeval>.size))
        }
        return socket
    }

    static func withLoopback(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Void) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    @discardableResult
    static func check(_ result: Int32, _ operation: String) throws -> Int32 {
        guard result >= 0 else { throw Failure(description: "\(operation): \(String(cString: strerror(errno)))") }
        return result
    }
}
