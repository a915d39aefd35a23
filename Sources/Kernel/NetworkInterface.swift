import CSystemLibraries

/// A network interface of the current network namespace, by name and index.
public struct NetworkInterface: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let index: UInt32

    /// Looks the interface up by name; `.unknownInterface` when there is none.
    public init(name: String) throws(KernelError) {
        guard !name.isEmpty, name.utf8.count < Int(IF_NAMESIZE) else { throw .unknownInterface(name) }
        let index = if_nametoindex(name)
        guard index != 0 else { throw .unknownInterface(name) }
        self.name = name
        self.index = index
    }

    /// Looks the interface up by index.
    public init(index: UInt32) throws(KernelError) {
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(index, &buffer) != nil else { throw .unknownInterface("#\(index)") }
        self.name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.index = index
    }

    /// The interface's MTU now.
    public func mtu() throws(KernelError) -> Int {
        let result = xdpfw_interface_mtu(name)
        guard result >= 0 else { throw .system(operation: "reading the MTU of \(name)", errno: -result) }
        return Int(result)
    }

    public var description: String { name }
}
