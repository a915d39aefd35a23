import FilterCompiler
import Glibc

/// Host names through the system resolver (getaddrinfo: /etc/hosts, then DNS, as nsswitch.conf
/// says), the way tcpdump resolves `host NAME`; every other name from the system's files.
public struct SystemResolver: NameService {
    private let files: SystemFiles

    public init(files: SystemFiles = SystemFiles()) { self.files = files }

    public func port(_ name: String, protocol proto: String) -> UInt32? { files.port(name, protocol: proto) }
    public func ipProtocol(_ name: String) -> UInt32? { files.ipProtocol(name) }
    public func network(_ name: String) -> UInt32? { files.network(name) }
    public func etherHost(_ name: String) -> [UInt8]? { files.etherHost(name) }

    /// The addresses getaddrinfo gives for the name, in its order, each once (it lists an
    /// address once per socket type: the duplicates are dropped).
    public func hostAddresses(_ name: String) -> [HostAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return files.hostAddresses(name) }
        defer { freeaddrinfo(first) }
        var addresses: [HostAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry?.pointee {
            entry = info.ai_next
            guard let address = info.ai_addr else { continue }
            let found: HostAddress?
            switch info.ai_family {
            case AF_INET:
                found = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    .ipv4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr))
                }
            case AF_INET6:
                found = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var bytes = $0.pointee.sin6_addr.__in6_u.__u6_addr8
                    return .ipv6(withUnsafeBytes(of: &bytes) { Array($0) })
                }
            default:
                found = nil
            }
            if let found, !addresses.contains(found) { addresses.append(found) }
        }
        return addresses
    }
}
