import CSystemLibraries

/// A minimal HTTP/1.1 server on one TCP socket, for `xdpfw exporter`: answers GET requests one
/// connection at a time (Prometheus scrapes are small and seldom), closes each connection after
/// its answer, and gives up on a client that sends nothing within a few seconds.
public final class HTTPEndpoint: @unchecked Sendable {
    /// What a request asks for.
    public struct Request: Sendable {
        public var method: String
        public var path: String
    }

    /// What the handler answers.
    public struct Response: Sendable {
        public var status: Int
        public var reason: String
        public var contentType: String
        public var body: String
        public init(status: Int, reason: String, contentType: String, body: String) {
            self.status = status
            self.reason = reason
            self.contentType = contentType
            self.body = body
        }
    }

    let descriptor: OwnedDescriptor
    /// The port bound (the one asked for, or the kernel's choice for port 0).
    public let port: UInt16

    /// Listens on `host:port` (a numeric IPv4 or IPv6 address; empty means every IPv6 and IPv4
    /// address) in the calling thread's network namespace.
    public init(host: String, port: UInt16) throws(KernelError) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &found)
        guard code == 0, let address = found else {
            throw .invalidArgument("'\(host)' is not a numeric IPv4 or IPv6 address to listen on")
        }
        defer { freeaddrinfo(found) }
        let fd = try checkLibc(socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0),
                               "opening a TCP socket")
        descriptor = OwnedDescriptor(fd)
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, 4)
        try checkLibc(bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen), "listening on \(host):\(port)")
        try checkLibc(listen(fd, 16), "listening on \(host):\(port)")
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let networkPort = bound.ss_family == sa_family_t(AF_INET6)
            ? withUnsafePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port } }
            : withUnsafePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port } }
        self.port = UInt16(bigEndian: networkPort)
    }

    public func close() { descriptor.close() }

    /// Answers connections until `shouldStop` says so (checked whenever `accept` is interrupted
    /// by a signal or a connection was answered).
    public func serve(until shouldStop: () -> Bool, _ handler: (Request) -> Response) {
        while !shouldStop() {
            let client = accept(descriptor.raw, nil, nil)
            if client < 0 { continue }  // EINTR (a signal) or a client gone before accept
            let connection = OwnedDescriptor(client)
            var wait = timeval(tv_sec: 5, tv_usec: 0)
            for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
                _ = setsockopt(client, SOL_SOCKET, option, &wait, socklen_t(MemoryLayout<timeval>.size))
            }
            if let request = Self.readRequest(client) {
                Self.write(handler(request), to: client, withBody: request.method != "HEAD")
            } else {
                Self.write(Response(status: 400, reason: "Bad Request", contentType: "text/plain; charset=utf-8",
                                    body: "bad request\n"), to: client, withBody: true)
            }
            connection.close()
        }
    }

    /// The request line of what the client sent up to the blank line ending its header (at
    /// most 16 KiB).
    static func readRequest(_ client: Int32) -> Request? {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < 16384 {
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
            if received.count >= 4, received.suffix(4) == [13, 10, 13, 10] { break }
            if received.count >= 2, received.suffix(2) == [10, 10] { break }
        }
        guard let end = received.firstIndex(of: 10) else { return nil }
        let words = String(decoding: received[..<end], as: UTF8.self).split(separator: " ")
        guard words.count == 3, words[2].hasPrefix("HTTP/") else { return nil }
        return Request(method: String(words[0]), path: String(words[1]))
    }

    static func write(_ response: Response, to client: Int32, withBody: Bool) {
        let body = Array(response.body.utf8)
        let head = "HTTP/1.1 \(response.status) \(response.reason)\r\nContent-Type: \(response.contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8) + (withBody ? body : [])
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes { send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }
}
