import Foundation
import PacketFormats
import Synchronization

/// Name lookups in /etc/services, /etc/protocols, /etc/networks, /etc/hosts and /etc/ethers.
///
/// Each directory's files are read once per process, on the first lookup, into dictionaries
/// (`NameTables`); every later lookup, from any thread, is a dictionary access. A name listed
/// on several lines answers as the first line that gives a usable value, as a scan of the file
/// would.
public struct SystemFiles: NameService {
    public var root: String

    public init(root: String = "/etc") { self.root = root }

    private var tables: NameTables { NameTables.loaded(root: root) }

    public func port(_ name: String, protocol proto: String) -> UInt32? {
        tables.ports[ServiceName(name: name, protocol: proto)]
    }

    public func ipProtocol(_ name: String) -> UInt32? { tables.protocols[name] }

    public func network(_ name: String) -> UInt32? { tables.networks[name] }

    public func hostAddresses(_ name: String) -> [HostAddress] {
        if let (address, bits) = AddressText.ipv4(name), bits == 32 { return [.ipv4(address)] }
        if let bytes = AddressText.ipv6(name) { return [.ipv6(bytes)] }
        return tables.hosts[name.lowercased()] ?? []
    }

    public func etherHost(_ name: String) -> [UInt8]? { tables.ethers[name] }
}

/// A service name for one transport protocol, as /etc/services lists it.
struct ServiceName: Hashable {
    var name: String
    var `protocol`: String
}

/// The five name files of one directory, parsed. Immutable once built, so shared freely.
final class NameTables: Sendable {
    let ports: [ServiceName: UInt32]
    let protocols: [String: UInt32]
    /// As inet_network reads the number: the parts written, right-aligned.
    let networks: [String: UInt32]
    /// By lower-cased host name, every address in file order.
    let hosts: [String: [HostAddress]]
    let ethers: [String: [UInt8]]

    /// One set of tables per directory, built on first use.
    private static let cache = Mutex<[String: NameTables]>([:])

    static func loaded(root: String) -> NameTables {
        cache.withLock { cache in
            if let tables = cache[root] { return tables }
            let tables = NameTables(root: root)
            cache[root] = tables
            return tables
        }
    }

    init(root: String) {
        var ports: [ServiceName: UInt32] = [:]
        for fields in Self.records(root, "services") where fields.count >= 2 {
            let entry = fields[1].split(separator: "/")
            guard entry.count == 2, let port = UInt32(entry[0]) else { continue }
            for name in Self.names(fields) { ports.keepFirst(ServiceName(name: String(name), protocol: String(entry[1])), port) }
        }
        self.ports = ports

        var protocols: [String: UInt32] = [:]
        for fields in Self.records(root, "protocols") where fields.count >= 2 {
            guard let number = UInt32(fields[1]) else { continue }
            for name in Self.names(fields) { protocols.keepFirst(String(name), number) }
        }
        self.protocols = protocols

        var networks: [String: UInt32] = [:]
        for fields in Self.records(root, "networks") where fields.count >= 2 {
            guard let (address, _) = AddressText.ipv4(String(fields[1])) else { continue }
            for name in Self.names(fields) { networks.keepFirst(String(name), address) }
        }
        self.networks = networks

        var hosts: [String: [HostAddress]] = [:]
        for fields in Self.records(root, "hosts") where fields.count >= 2 {
            let text = String(fields[0])
            let address: HostAddress
            if let (v4, bits) = AddressText.ipv4(text), bits == 32 {
                address = .ipv4(v4)
            } else if let bytes = AddressText.ipv6(text) {
                address = .ipv6(bytes)
            } else {
                continue
            }
            // A name written twice on one line still gives the address once.
            var seen: Set<String> = []
            for name in fields.dropFirst() where seen.insert(name.lowercased()).inserted {
                hosts[name.lowercased(), default: []].append(address)
            }
        }
        self.hosts = hosts

        var ethers: [String: [UInt8]] = [:]
        for fields in Self.records(root, "ethers") where fields.count >= 2 {
            guard let mac = AddressText.mac(String(fields[0])) else { continue }
            ethers.keepFirst(String(fields[1]), mac)
        }
        self.ethers = ethers
    }

    /// The official name and the aliases of a line: every field but the second.
    private static func names(_ fields: [Substring]) -> [Substring] {
        [fields[0]] + fields.dropFirst(2)
    }

    /// The whitespace-separated fields of each line of a file, comments removed.
    private static func records(_ root: String, _ file: String) -> [[Substring]] {
        guard let text = try? String(contentsOfFile: root + "/" + file, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.isEmpty ? nil : fields
        }
    }
}

extension Dictionary {
    /// Stores the value unless the key already has one: the first line naming a key wins.
    mutating func keepFirst(_ key: Key, _ value: Value) {
        if self[key] == nil { self[key] = value }
    }
}
