import CSystemLibraries
import Foundation
import PacketFormats

/// Two fresh network namespaces joined by a veth pair, for tests that need real traffic.
/// Nothing touches the host's interfaces: both ends live inside the namespaces, with addresses from
/// 10.0.0.0/8 and fd00::/8. `close()` (also run by deinit) deletes both namespaces, which removes the
/// veth pair and everything attached to it.
public final class TestNetwork: @unchecked Sendable {
    public enum Side: Sendable { case a, b }

    public struct End: Sendable {
        public let namespace: String
        public let interfaceName: String
        public let mac: [UInt8]
        public let ipv4: String
        public let ipv6: String
    }

    public let a: End
    public let b: End
    private var closed = false
    /// The namespaces this network made: only these are deleted (never one that was there before).
    private var created: [String] = []

    public func end(_ side: Side) -> End { side == .a ? a : b }

    /// Creates the namespaces `xdpfw-PID-N-a` / `-b` with interfaces `xfw-a` / `xfw-b`, addresses
    /// 10.199.N.1/24 / .2 and fd00:199:N::1/64 / ::2, everything up. `namespacePrefix` names the
    /// namespaces `PREFIX-a` / `-b` instead (refused when either exists), `ipv4Network` (the first
    /// three bytes of a /24) gives the IPv4 addresses NETWORK.1 and .2 instead.
    public init(namespacePrefix: String? = nil, ipv4Network: [UInt8]? = nil) throws(KernelError) {
        TestNetwork.removeAbandoned()
        let serial = TestNetwork.nextSerial()
        let prefix = namespacePrefix ?? "xdpfw-\(getpid())-\(serial)"
        let third = serial % 250
        let network = ipv4Network.map { $0.prefix(3).map(String.init).joined(separator: ".") } ?? "10.199.\(third)"
        a = End(namespace: prefix + "-a", interfaceName: "xfw-a", mac: [0x02, 0x78, 0x66, 0x00, UInt8(third), 0x01],
                ipv4: network + ".1", ipv6: "fd00:199:\(third)::1")
        b = End(namespace: prefix + "-b", interfaceName: "xfw-b", mac: [0x02, 0x78, 0x66, 0x00, UInt8(third), 0x02],
                ipv4: network + ".2", ipv6: "fd00:199:\(third)::2")
        do throws(KernelError) {
            for namespace in [a.namespace, b.namespace] {
                guard !NetworkNamespace.exists(name: namespace) else {
                    throw .invalidArgument("network namespace '\(namespace)' exists already (left as it is): choose another name")
                }
                try IPCommand.run(["netns", "add", namespace])
                created.append(namespace)
            }
            try IPCommand.run(["-n", a.namespace, "link", "add", a.interfaceName, "address", TestNetwork.text(mac: a.mac),
                               "type", "veth", "peer", "name", b.interfaceName, "address", TestNetwork.text(mac: b.mac),
                               "netns", b.namespace])
            for end in [a, b] {
                try IPCommand.run(["-n", end.namespace, "link", "set", "lo", "up"])
                try IPCommand.run(["-n", end.namespace, "addr", "add", end.ipv4 + "/24", "dev", end.interfaceName])
                try IPCommand.run(["-n", end.namespace, "addr", "add", end.ipv6 + "/64", "dev", end.interfaceName, "nodad"])
                try IPCommand.run(["-n", end.namespace, "link", "set", end.interfaceName, "up"])
            }
            try waitUntilUp()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Frames sent before the kernel has seen the carrier come up are lost: wait for it (3 s at most).
    private func waitUntilUp() throws(KernelError) {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        for end in [a, b] {
            while !(try IPCommand.run(["-n", end.namespace, "-o", "link", "show", "dev", end.interfaceName]).contains("state UP")) {
                guard clock.now < deadline else {
                    throw .commandFailed(command: "ip -n \(end.namespace) link show dev \(end.interfaceName)", status: 0,
                                         output: "the veth did not come up within 3 seconds")
                }
                usleep(20_000)
            }
        }
    }

    /// Deletes both namespaces (and with them the veth pair, its XDP programs and TC filters).
    public func close() {
        guard !closed else { return }
        closed = true
        for namespace in created where NetworkNamespace.exists(name: namespace) {
            _ = try? IPCommand.run(["netns", "del", namespace])
        }
    }

    /// Deletes namespaces left by test processes that died before their cleanup ran, and the pins
    /// `xdpfw -n NAME apply` made for such namespaces under /sys/fs/bpf/xdpfw/netns/NAME/: those of
    /// test namespaces that no longer exist and whose process is gone. Nothing else is touched.
    static func removeAbandoned() {
        for name in BPFFileSystem.entries(of: NetworkNamespace.directory) where isAbandoned(name) {
            _ = try? IPCommand.run(["netns", "del", name])
        }
        let namespacePins = PinDirectory.defaultRoot + "/netns"
        for escaped in BPFFileSystem.entries(of: namespacePins) {
            let name = PinDirectory.unescape(escaped)
            guard isAbandoned(name), !NetworkNamespace.exists(name: name) else { continue }
            PinDirectory.removeAll(root: PinDirectory.root(forNamespace: name))
        }
        try? PinDirectory.removeIfEmpty(namespacePins)
    }

    /// A name `init` gives (`xdpfw-PID-N-a` or `-b`) whose process PID has ended (never this one's).
    static func isAbandoned(_ name: String) -> Bool {
        let fields = name.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == "xdpfw", let pid = Int32(fields[1]), pid > 0, pid != getpid(),
              Int(fields[2]) != nil, fields[3] == "a" || fields[3] == "b" else { return false }
        return kill(pid, 0) != 0 && xdpfw_errno() == ESRCH
    }

    /// Sends frames out of any interface of `side`'s namespace.
    @discardableResult
    public func send(_ frames: [[UInt8]], from side: Side, interface name: String, copies: Int = 1) throws -> Int {
        guard frames.count * copies <= 100_000 else {
            throw KernelError.invalidArgument("a test may send at most 100000 frames at once")
        }
        return try run(in: side) {
            let socket = try PacketSocket(interface: try NetworkInterface(name: name))
            defer { socket.close() }
            var accepted = 0
            for _ in 0..<copies { for frame in frames where try socket.send(frame) { accepted += 1 } }
            return accepted
        }
    }

    /// Runs `body` inside the namespace of `side`.
    public func run<Result>(in side: Side, _ body: () throws -> Result) throws -> Result {
        try NetworkNamespace.run(in: end(side).namespace, body)
    }

    /// The veth interface of `side`, looked up inside its namespace.
    /// Makes both namespaces send nothing by themselves: no addresses and IPv6 off, so no
    /// neighbour discovery, MLD or ARP. Then every frame a hook counts is one a test sent, and
    /// counters can be compared exactly.
    public func silence() throws {
        for side in [Side.a, .b] {
            let end = end(side)
            try IPCommand.run(["-n", end.namespace, "addr", "flush", "dev", end.interfaceName])
            try run(in: side) {
                // /proc/sys/net belongs to the namespace of the thread that opens it.
                for path in ["all", "default", end.interfaceName] {
                    try "1\n".write(toFile: "/proc/sys/net/ipv6/conf/\(path)/disable_ipv6", atomically: false, encoding: .utf8)
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.2)
    }

    public func interface(_ side: Side) throws -> NetworkInterface {
        try run(in: side) { try NetworkInterface(name: end(side).interfaceName) }
    }

    /// Sends each frame `copies` times out of `side`'s veth (at most 100 000 frames in all).
    /// Returns how many frames the kernel accepted (TC egress drops are not accepted).
    @discardableResult
    public func send(_ frames: [[UInt8]], from side: Side, copies: Int = 1) throws -> Int {
        try send(frames, from: side, interface: end(side).interfaceName, copies: copies)
    }

    /// Opens a packet socket on `side`'s interface (before sending, so nothing is missed).
    public func capture(on side: Side) throws -> PacketSocket {
        try run(in: side) { try PacketSocket(interface: try NetworkInterface(name: end(side).interfaceName)) }
    }

    /// An Ethernet + IPv4 + UDP frame from `side` to the other end (checksums zero: UDP allows it
    /// and the IPv4 checksum is computed).
    public func udpFrame(from side: Side, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8] = []) -> [UInt8] {
        let source = end(side), destination = end(side == .a ? .b : .a)
        let udpLength = 8 + payload.count
        var ip: [UInt8] = [0x45, 0, UInt8((20 + udpLength) >> 8), UInt8((20 + udpLength) & 0xff), 0, 0, 0x40, 0, 64, 17, 0, 0]
        ip += TestNetwork.bytes(ipv4: source.ipv4) + TestNetwork.bytes(ipv4: destination.ipv4)
        InternetChecksum.fill(&ip, at: Protocols.IPv4.checksumField)
        let udp: [UInt8] = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
        return destination.mac + source.mac + [0x08, 0x00] + ip + udp + payload
    }

    static func text(mac: [UInt8]) -> String {
        mac.map { let h = String($0, radix: 16); return h.count == 1 ? "0" + h : h }.joined(separator: ":")
    }

    static func bytes(ipv4: String) -> [UInt8] { ipv4.split(separator: ".").map { UInt8($0)! } }

    private static let serialLock = NSLock()
    nonisolated(unsafe) private static var serial = 0
    private static func nextSerial() -> Int {
        serialLock.lock(); defer { serialLock.unlock() }
        serial += 1
        return serial
    }
}

/// Runs the `ip` tool (iproute2) and reports its output when it fails.
public enum IPCommand {
    static let executable = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @discardableResult
    public static func run(_ arguments: [String]) throws(KernelError) -> String {
        let line = "ip " + arguments.joined(separator: " ")
        guard let executable else { throw .commandFailed(command: line, status: 127, output: "iproute2's `ip` is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { throw .commandFailed(command: line, status: -1, output: "\(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw .commandFailed(command: line, status: process.terminationStatus, output: text)
        }
        return text
    }
}
