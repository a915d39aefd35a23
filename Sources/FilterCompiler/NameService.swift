import Foundation

/// Where the compiler looks up names: services, protocols, networks, hosts and Ethernet hosts.
/// The default reads the system's files; the command line injects one that also asks the
/// system resolver for host names.
public protocol NameService: Sendable {
    /// The port of a service for "tcp" or "udp" (/etc/services).
    func port(_ name: String, protocol: String) -> UInt32?
    /// An IP protocol number by name (/etc/protocols).
    func ipProtocol(_ name: String) -> UInt32?
    /// A network number by name (/etc/networks), as written there (`10` is 0x0000000a).
    func network(_ name: String) -> UInt32?
    /// The addresses of a host, in the order they should be tested.
    func hostAddresses(_ name: String) -> [HostAddress]
    /// An Ethernet address by host name (/etc/ethers).
    func etherHost(_ name: String) -> [UInt8]?
}

public enum HostAddress: Hashable, Sendable {
    case ipv4(UInt32)
    case ipv6([UInt8])
}
