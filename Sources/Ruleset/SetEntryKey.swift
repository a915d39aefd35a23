/// A set entry by what it means, for `xdpfw set add|del`: `10.9.0.2` and `10.9.0.2/32` are one
/// entry (a bare address is its host prefix, `/32` or `/128`), `2001:db8::1` and
/// `2001:DB8:0::1` are one, and a port is its number. Entries that are no address, prefix or
/// port compare as written.

import EBPF
import FilterLanguage
import PacketFormats

enum SetEntryKey: Hashable {
    case number(UInt32)
    case address(AddressPrefix)
    case text(String)

    init(_ entry: String) {
        switch SetExpansion.identifier(entry) {
        case let .number(value)?:
            self = .number(value)
        case let identifier?:
            // What `net ENTRY` means, as the lookups read it (`10.1` is 10.1.0.0/16, an IPv6
            // address its /128); `/0`, which a lookup leaves to the filters, is a prefix here too.
            if let prefix = MergeableRule.prefix(.net, identifier) {
                self = .address(prefix)
            } else if case let .prefix(text, 0) = identifier, let bytes = AddressText.networkBytes(text),
                      let prefix = AddressPrefix(bytes: bytes, length: 0) {
                self = .address(prefix)
            } else {
                self = .text(entry)
            }
        case nil:
            self = .text(entry)
        }
    }

    /// The entries without those that mean the same as an earlier one, in order.
    static func distinct(_ entries: [String]) -> [String] {
        var seen = Set<SetEntryKey>()
        return entries.filter { seen.insert(SetEntryKey($0)).inserted }
    }

    /// What keeps `entry` from being an address, prefix or port that a lookup can hold, if anything.
    static func problem(with entry: String, of name: String) -> String? {
        if let reason = hostBitsProblem(entry) { return "'\(entry)' cannot be in @\(name): \(reason)" }
        switch SetEntryKey(entry) {
        case let .number(value) where value > 65535:
            return "'\(entry)' cannot be in @\(name): a port is 0 to 65535"
        case .number, .address:
            return nil
        case .text:
            return "'\(entry)' is not an address, prefix or port for @\(name)"
        }
    }

    /// `192.0.2.1/24`: the address has bits set beyond the prefix, which libpcap refuses.
    static func hostBitsProblem(_ entry: String) -> String? {
        guard case let .prefix(text, length)? = SetExpansion.identifier(entry), let bytes = AddressText.networkBytes(text),
              Int(length) <= bytes.count * 8, AddressPrefix(bytes: bytes, length: Int(length)) == nil else { return nil }
        let network = AddressPrefix(bytes: bytes, length: bytes.count * 8)!.truncated(to: Int(length))
        return "\(entry) has host bits set (libpcap refuses it too): write \(network.written)"
    }
}

extension AddressPrefix {
    /// `192.0.2.0/24`, `2001:db8::/32` (IPv6 as groups of hex without leading zeros).
    var written: String {
        let bytes = self.bytes
        let address: String
        if bytes.count == 4 {
            address = bytes.map(String.init).joined(separator: ".")
        } else {
            address = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
        return "\(address)/\(length)"
    }
}

extension Rule {
    /// Why `entry` cannot be in set `name` as this lookup rule uses it, when the general
    /// `setEntryKind` would mislead: libpcap takes the entry, but not as a table lookup.
    func setEntryRefusal(_ entry: String, set name: String) -> String? {
        if let reason = SetEntryKey.hostBitsProblem(entry) { return reason }
        guard case let .number(value) = SetEntryKey(entry), !["host", "port"].contains(Word.split(text(before: name)).last?.text) else { return nil }
        // libpcap reads `net N` as a network number: as many leading bytes as N needs.
        let width = value > 0xffffff ? 4 : value > 0xffff ? 3 : value > 0xff ? 2 : 1
        let leading = (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt32(8 * (width - 1 - $0))) }
        let network = AddressPrefix(bytes: leading + [UInt8](repeating: 0, count: 4 - width), length: 8 * width)!
        return "a bare network number ('net \(entry)' in libpcap) is not a table lookup; write \(network.written)"
    }
}
