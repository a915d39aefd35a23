/// A packet classifier's tables walked in Swift as its program walks them (`ClassifierEmitter`):
/// the tests hold this walk to the rules' own first match (`FieldConjunction.matches`, itself
/// held to libpcap), and the kernel's answers to both.

import EBPF
import PacketFormats

public struct ClassifierWalk {
    private let classifier: PacketClassifier
    private let kind: [UInt32: UInt32]
    private let trie: [UInt32: UInt32]
    private let ipv6: [PacketSide: [(prefix: AddressPrefix, row: UInt32)]]
    private let ports: [UInt32: UInt32]

    public init(_ classifier: PacketClassifier) {
        self.classifier = classifier
        kind = Dictionary(uniqueKeysWithValues: classifier.kindRows.map { ($0.key, $0.row) })
        trie = Dictionary(uniqueKeysWithValues: classifier.addressTrie.map { ($0.index, $0.value) })
        ipv6 = [.source: classifier.ipv6Source, .destination: classifier.ipv6Destination]
        ports = Dictionary(uniqueKeysWithValues: classifier.portRows.map { ($0.index, $0.row) })
    }

    /// The first entry whose constraints the frame meets, nil when none does.
    public func firstEntry(in frame: [UInt8]) -> Int? {
        var rows = [UInt32](repeating: 0, count: PacketClassifier.Field.allCases.count)
        fillRows(&rows, frame)
        // Each group's first entry; the first match is the one of the lowest slot.
        var best: Int?
        for group in classifier.groups {
            for word in group {
                var bits = UInt64.max
                for field in PacketClassifier.Field.allCases {
                    bits &= classifier.rows[classifier.rowBase[field.rawValue] + Int(rows[field.rawValue])][word]
                }
                guard bits != 0 else { continue }
                let entry = word * 64 + bits.trailingZeroBitCount
                if best.map({ classifier.entries[entry].slot < classifier.entries[$0].slot }) ?? true { best = entry }
                break
            }
        }
        return best
    }

    private func fillRows(_ rows: inout [UInt32], _ frame: [UInt8]) {
        let reader = FrameReader(bytes: frame)
        guard let etherType = reader.value(.link, Protocols.Ethernet.typeField, width: 2),
              let code = PacketClassifier.familyCodes.first(where: { $0.etherType == etherType })?.family else { return }
        let absent = UInt32(PacketClassifier.absentProtocol), unknown = PacketClassifier.fragmentNotKnown
        var protocolKey = absent, fragment = unknown
        switch code {
        case 1:
            if let offset = reader.field(.fragmentOffset, .ipv4) { fragment = offset == 0 ? 0 : 1 }
            protocolKey = reader.field(.ipProtocol, .ipv4) ?? absent
        case 2:
            protocolKey = reader.field(.ipProtocol, .ipv6) ?? absent
            if protocolKey == Protocols.IPProtocol.fragment,
               let next = reader.value(.network, Protocols.IPv6.headerLength, width: 1) { protocolKey = 256 + next }
        default:
            break
        }
        var kindKey = PacketClassifier.kindKey(family: code, fragment: fragment, protocolKey: Int(protocolKey))
        if classifier.hasTransportBytes, let byteClass = PacketClassifier.TransportByteClass.allCases.first(where: { $0.kindKey == kindKey }),
           let byte = reader.field(byteClass.field, byteClass.kind.family) {
            kindKey = PacketClassifier.transportByteKey(byteClass, byte: UInt8(byte))
        }
        // The set tests passed: the whole address in the frame and in a prefix of the set.
        var sets = 0
        for (bit, test) in classifier.setTests.enumerated() {
            let family: AddressFamily = code == 2 ? .ipv6 : .ipv4
            let offset = code == 1 || code == 2 ? PacketField.address(source: test.side == .source).location(in: family)!.offset
                : test.side == .source ? Protocols.ARP.senderProtocolAddress : Protocols.ARP.targetProtocolAddress
            let start = Int(Protocols.Ethernet.headerLength + offset)
            guard frame.count >= start + family.width, let address = AddressPrefix(bytes: Array(frame[start..<start + family.width]),
                                                                                    length: family.width * 8) else { continue }
            if classifier.setEntries[test.name, default: []].contains(where: { $0.family == family && address.truncated(to: $0.length) == $0 }) {
                sets |= 1 << bit
            }
        }
        kindKey = PacketClassifier.kindKey(kindKey, sets: sets)
        rows[0] = kind[kindKey] ?? 0
        for side in PacketSide.allCases {
            let field = side == .source ? 1 : 2
            switch code {
            case 1, 3, 4:
                let offset = code == 1 ? PacketField.address(source: side == .source).location(in: .ipv4)!.offset
                    : side == .source ? Protocols.ARP.senderProtocolAddress : Protocols.ARP.targetProtocolAddress
                guard classifier.hasIPv4Addresses, let address = reader.value(.network, offset, width: 4) else { continue }
                var value = trie[(side == .source ? 0 : UInt32(PacketClassifier.trieFirstLevel)) + (address >> 16)] ?? 0
                for shift: UInt32 in [8, 0] where value & PacketClassifier.nodeFlag != 0 {
                    value = trie[(value & ~PacketClassifier.nodeFlag) + (address >> shift & 0xff)] ?? 0
                }
                rows[field] = value
            default:
                // As the LPM trie answers: the longest prefix no longer than the words the frame holds.
                let offset = PacketField.address(source: side == .source).location(in: .ipv6)!.offset
                let start = Int(Protocols.Ethernet.headerLength + offset)
                let available = min(4, max(0, (frame.count - start) / 4))
                guard available > 0 else { continue }
                let bytes = Array(frame[start..<start + 4 * available]) + [UInt8](repeating: 0, count: 16 - 4 * available)
                let address = AddressPrefix(bytes: bytes, length: 128)!
                let best = ipv6[side]!.filter { $0.prefix.length <= 32 * available && address.truncated(to: $0.prefix.length) == $0.prefix }
                    .max { $0.prefix.length < $1.prefix.length }
                rows[field] = best?.row ?? 0
            }
        }
        guard code <= 2 else { return }
        let family: AddressFamily = code == 1 ? .ipv4 : .ipv6
        for (field, side) in [(3, PacketSide.source), (4, .destination)] {
            guard let port = reader.field(.port(source: side == .source), family) else { continue }
            rows[field] = ports[(side == .source ? 0 : 65_536) + port] ?? 0
        }
    }
}
