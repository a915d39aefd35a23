/// A conjunction tested on a frame's bytes, reading each field where the field model puts it;
/// a field that ends past the captured bytes fails the test, as a load past the end rejects the
/// packet in classic BPF.

import EBPF
import PacketFormats

extension FieldConjunction {
    /// Whether the captured bytes of an untagged Ethernet frame match every constraint.
    /// `sets`: the entries of the sets the conjunction tests (`sourceSets`...), as prefixes; the
    /// address is in a set when one of its prefixes holds it, read as `net PREFIX` reads it.
    public func matches(_ frame: [UInt8], sets: [String: [AddressPrefix]] = [:]) -> Bool {
        guard let family else { return true }
        let reader = FrameReader(bytes: frame)
        guard reader.value(.link, Protocols.Ethernet.typeField, width: 2) == family.etherType else { return false }
        func inSets(_ names: Set<String>, at offset: UInt32, _ version: AddressFamily) -> Bool {
            names.allSatisfy { name in
                (sets[name] ?? []).contains { $0.family == version && reader.holds($0, at: offset) }
            }
        }
        guard let version = family.addressFamily else {
            return reader.holds(source, at: Protocols.ARP.senderProtocolAddress)
                && reader.holds(destination, at: Protocols.ARP.targetProtocolAddress)
                && inSets(sourceSets, at: Protocols.ARP.senderProtocolAddress, .ipv4)
                && inSets(destinationSets, at: Protocols.ARP.targetProtocolAddress, .ipv4)
        }
        if let ipProtocol, reader.field(.ipProtocol, version) != UInt32(ipProtocol) { return false }
        if let fragmentNextHeader, reader.value(.network, Protocols.IPv6.headerLength, width: 1) != UInt32(fragmentNextHeader) {
            return false
        }
        if firstFragment, reader.field(.fragmentOffset, version) != 0 { return false }
        for (prefix, field) in [(source, PacketField.sourceAddress), (destination, .destinationAddress)] {
            guard let prefix else { continue }
            guard prefix.family == version, reader.holds(prefix, at: field.location(in: version)!.offset) else { return false }
        }
        for (names, field) in [(sourceSets, PacketField.sourceAddress), (destinationSets, .destinationAddress)] where !names.isEmpty {
            guard inSets(names, at: field.location(in: version)!.offset, version) else { return false }
        }
        for (ports, field) in [(sourcePorts, PacketField.sourcePort), (destinationPorts, .destinationPort)] {
            guard let ports else { continue }
            guard let port = reader.field(field, version), ports.contains(UInt16(port)) else { return false }
        }
        if let transportByte {
            guard let value = reader.field(transportByte.field, version), transportByte.values.contains(UInt8(value)) else { return false }
        }
        return true
    }

    /// How far into a frame the conjunction reads: the end of its furthest field before the
    /// transport header and, on IPv4 (whose transport header starts where IHL says, even inside
    /// the IP header when IHL is below 5), the end of its furthest transport field apart.
    var reach: FrameReach {
        var reach = FrameReach(fixed: family == nil ? 0 : Int(Protocols.Ethernet.typeField) + 2, transport: 0)
        func extend(_ offset: UInt32, _ width: UInt32) { reach.fixed = max(reach.fixed, Int(Protocols.Ethernet.headerLength + offset + width)) }
        guard let family, let version = family.addressFamily else {
            if let source { extend(Protocols.ARP.senderProtocolAddress, UInt32(source.readWidth)) }
            if let destination { extend(Protocols.ARP.targetProtocolAddress, UInt32(destination.readWidth)) }
            // A set's entries read the whole address (IPv6 ones are longer than /96).
            if !sourceSets.isEmpty { extend(Protocols.ARP.senderProtocolAddress, 4) }
            if !destinationSets.isEmpty { extend(Protocols.ARP.targetProtocolAddress, 4) }
            return reach
        }
        if fragmentNextHeader != nil { extend(Protocols.IPv6.headerLength, 1) }
        for field in fields.subtracting([.etherType]) {
            var place = field.location(in: version)!
            // A prefix reads the words it covers; a set's entries the whole address (IPv6 ones are
            // longer than /96), which the field's width is.
            if let prefix = field == .sourceAddress ? source : field == .destinationAddress ? destination : nil,
               (field == .sourceAddress ? sourceSets : destinationSets).isEmpty {
                place.width = UInt32(prefix.readWidth)
            }
            switch (place.header, version.fixedTransportOffset) {
            case (.transport, let fixed?): extend(fixed + place.offset, place.width)
            case (.transport, nil): reach.transport = max(reach.transport, Int(place.offset + place.width))
            default: extend(place.offset, place.width)
            }
        }
        return reach
    }
}

/// How far a test reads into a frame: `fixed`, the end of its furthest field at a fixed offset
/// from the start; `transport`, the end of its furthest field counted from an IPv4 transport
/// header (0: none). A frame that holds one reach holds every smaller one.
struct FrameReach: Hashable {
    var fixed: Int
    var transport: Int

    /// Every field the reach `self` reads is read by `other` too, or lies before one it reads.
    func isWithin(_ other: FrameReach) -> Bool { fixed <= other.fixed && transport <= other.transport }

    /// As far as the further of the two, in each part.
    func union(_ other: FrameReach) -> FrameReach { FrameReach(fixed: max(fixed, other.fixed), transport: max(transport, other.transport)) }

    static func union(_ a: FrameReach?, _ b: FrameReach?) -> FrameReach? {
        guard let a else { return b }
        return b.map(a.union) ?? a
    }
}

extension AddressPrefix {
    /// The bytes of an address libpcap loads to test this prefix: the 32-bit words the prefix
    /// covers (an IPv6 /32 reads one word, an IPv4 /8 the whole address).
    var readWidth: Int { family == .ipv4 ? 4 : max(1, (length + 31) / 32) * 4 }
}

/// Big-endian reads from a frame's captured bytes; nil past their end.
struct FrameReader {
    var bytes: [UInt8]

    func value(_ header: FieldLocation.Header, _ offset: UInt32, width: UInt32, in family: AddressFamily = .ipv4) -> UInt32? {
        guard let start = self.start(of: header, family) else { return nil }
        let first = start + Int(offset), end = first + Int(width)
        guard end <= bytes.count else { return nil }
        return bytes[first..<end].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A field of the field model (at most 4 bytes wide), masked.
    func field(_ field: PacketField, _ family: AddressFamily) -> UInt32? {
        let place = field.location(in: family)!
        return value(place.header, place.offset, width: place.width, in: family).map { $0 & (place.mask ?? ~0) }
    }

    /// Whether the address at `offset` of the network header is inside `prefix` (true when
    /// there is no prefix). Only the 32-bit words the prefix covers are read, as libpcap does.
    func holds(_ prefix: AddressPrefix?, at offset: UInt32) -> Bool {
        guard let prefix else { return true }
        let first = Int(Protocols.Ethernet.headerLength + offset), end = first + prefix.readWidth
        guard end <= bytes.count else { return false }
        let padded = Array(bytes[first..<end]) + [UInt8](repeating: 0, count: prefix.family.width - prefix.readWidth)
        return AddressPrefix(bytes: padded, length: prefix.family.width * 8)!.truncated(to: prefix.length) == prefix
    }

    /// Where a header starts: the transport header after IPv4's header length (4 × IHL, as
    /// libpcap computes it whatever IHL says) or IPv6's fixed header.
    private func start(of header: FieldLocation.Header, _ family: AddressFamily) -> Int? {
        let network = Int(Protocols.Ethernet.headerLength)
        switch header {
        case .link: return 0
        case .network: return network
        case .transport:
            if let fixed = family.fixedTransportOffset { return network + Int(fixed) }
            guard network < bytes.count else { return nil }
            let ihl = UInt32(bytes[network + Int(Protocols.IPv4.headerLengthField)]) & Protocols.IPv4.headerLengthMask
            return network + Int(ihl * Protocols.IPv4.headerLengthUnit)
        }
    }
}
