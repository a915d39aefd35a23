/// Which rules can share a trie lookup with their neighbours (see `LookupGroup`), read from the
/// expression's syntax tree. Only forms whose meaning is certain are recognised; anything else
/// (names, masks, short dotted hosts, protocol qualifiers on addresses) stays a filter.

import FilterLanguage
import EBPF
import PacketFormats

enum MergeableRule {
    private static let tcp = UInt8(Protocols.IPProtocol.tcp)
    private static let udp = UInt8(Protocols.IPProtocol.udp)
    private static let sctp = UInt8(Protocols.IPProtocol.sctp)

    /// The lookups an expression amounts to (it matches when any does), or nil when it is not
    /// one of the merged shapes: `[src|dst|src or dst] (host ADDR | net ADDR/LEN)`, an `or` of
    /// such with one direction (`src host A or B or C`), and such an address part `and` a port
    /// part `(tcp|udp) (src|dst) port N [or M…]`, in either order.
    ///
    /// `leaves` says which primitives a leaf of the tree stands for: itself, or for the leaf a
    /// set was written out as (`src net @big` parsed as `(src net FIRST)`), one primitive per
    /// entry of the set, as the written-out `or` would hold them; nil when one is not a lookup
    /// primitive. So a set of 100,000 entries is never parsed as one `or`.
    static func matches(_ expression: FilterExpression,
                        leaves: (FilterExpression) -> [FilterExpression]? = { [$0] }) -> [LookupMatch]? {
        if let addresses = addresses(expression, leaves) { return addresses.map { .address($0.0, sides: $0.1) } }
        if let ports = portsOnly(expression, leaves) { return ports }
        guard case let .and(left, right) = expression else { return nil }
        for (first, second) in [(left, right), (right, left)] {
            guard let addresses = addresses(first, leaves), let sides = addresses.first?.1, sides.count == 1, let side = sides.first,
                  let ports = self.ports(second, leaves) else { continue }
            return addresses.flatMap { address in
                ports.map { LookupMatch.addressAndPort(address.0, addressSide: side, transport: $0.0, port: $0.1, portSide: $0.2) }
            }
        }
        return nil
    }

    /// One address primitive, or an `or` of them that a lookup means exactly: one direction
    /// for all (libpcap tests them in order and a load past the end rejects the packet at once,
    /// so `dst host A or src host B` on a packet that ends inside the destination is no match),
    /// and IPv6 prefixes longer than 96 bits (all loading the four words).
    private static func addresses(_ expression: FilterExpression,
                                  _ leaves: (FilterExpression) -> [FilterExpression]?) -> [(AddressPrefix, Set<PacketSide>)]? {
        let all: [(AddressPrefix, Set<PacketSide>)]
        if case let .or(left, right) = expression {
            guard let lefts = addresses(left, leaves), let rights = addresses(right, leaves) else { return nil }
            all = lefts + rights
        } else {
            guard let primitives = leaves(expression) else { return nil }
            var found: [(AddressPrefix, Set<PacketSide>)] = []
            found.reserveCapacity(primitives.count)
            for primitive in primitives {
                guard let one = address(primitive) else { return nil }
                found.append(one)
            }
            if found.count == 1 { return found }
            all = found
        }
        guard let sides = all.first?.1, sides.count == 1, all.allSatisfy({ $0.1 == sides }),
              all.allSatisfy({ $0.0.family == .ipv4 || $0.0.length > 96 }) else { return nil }
        return all
    }

    /// One port primitive or an `or` of them with the same protocol and direction.
    private static func ports(_ expression: FilterExpression,
                              _ leaves: (FilterExpression) -> [FilterExpression]?) -> [(UInt8, UInt16, PacketSide)]? {
        let all: [(UInt8, UInt16, PacketSide)]
        if case let .or(left, right) = expression {
            guard let lefts = ports(left, leaves), let rights = ports(right, leaves) else { return nil }
            all = lefts + rights
        } else {
            guard let primitives = leaves(expression) else { return nil }
            var found: [(UInt8, UInt16, PacketSide)] = []
            for primitive in primitives {
                guard let one = port(primitive) else { return nil }
                found.append(one)
            }
            all = found
        }
        guard all.allSatisfy({ $0.0 == all[0].0 && $0.2 == all[0].2 }) else { return nil }
        return all
    }

    /// `[tcp|udp|sctp] [src|dst|src or dst] port N`, or an `or` of such with the same protocol
    /// and direction (libpcap's optimized code then tests the source port against all before it
    /// loads the destination port, as the lookup does): one match per protocol, `port N`
    /// without one meaning tcp, udp or sctp.
    private static func portsOnly(_ expression: FilterExpression,
                                  _ leaves: (FilterExpression) -> [FilterExpression]?) -> [LookupMatch]? {
        var primitives: [FilterExpression] = []
        func collect(_ expression: FilterExpression) -> Bool {
            if case let .or(left, right) = expression { return collect(left) && collect(right) }
            guard let found = leaves(expression) else { return false }
            primitives += found
            return true
        }
        guard collect(expression) else { return nil }
        var matches: [LookupMatch] = []
        matches.reserveCapacity(primitives.count)
        var shape: ([UInt8], Set<PacketSide>)?
        for primitive in primitives {
            guard let one = portOnly(primitive) else { return nil }
            if let shape, shape != (one.transports, one.sides) { return nil }
            shape = (one.transports, one.sides)
            for transport in one.transports { matches.append(.port(transport: transport, port: one.port, sides: one.sides)) }
        }
        return matches.isEmpty ? nil : matches
    }

    private static func portOnly(_ expression: FilterExpression) -> (transports: [UInt8], port: UInt16, sides: Set<PacketSide>)? {
        guard case let .qualified(qualifiers, .number(number), _, _) = expression, qualifiers.type == .port,
              let port = UInt16(exactly: number) else { return nil }
        let transports: [UInt8]
        switch qualifiers.proto {
        case nil: transports = [tcp, udp, sctp]
        case .tcp?: transports = [tcp]
        case .udp?: transports = [udp]
        case .sctp?: transports = [sctp]
        default: return nil
        }
        switch qualifiers.direction {
        case nil, .sourceOrDestination?: return (transports, port, [.source, .destination])
        case .source?: return (transports, port, [.source])
        case .destination?: return (transports, port, [.destination])
        default: return nil
        }
    }

    private static func address(_ expression: FilterExpression) -> (AddressPrefix, Set<PacketSide>)? {
        guard case let .qualified(qualifiers, identifier, _, _) = expression, qualifiers.proto == nil else { return nil }
        let sides: Set<PacketSide>
        switch qualifiers.direction {
        case nil, .sourceOrDestination?: sides = [.source, .destination]
        case .source?: sides = [.source]
        case .destination?: sides = [.destination]
        default: return nil
        }
        return prefix(qualifiers.type, identifier).map { ($0, sides) }
    }

    /// The prefix a `host` or `net` operand (or an untyped address) means, when certain: four-part
    /// dotted hosts, IPv6 addresses, `net` with two to four dotted parts, `ADDR/LEN` with LEN > 0.
    static func prefix(_ type: TypeQualifier?, _ identifier: Identifier) -> AddressPrefix? {
        switch (type, identifier) {
        case (nil, let .dotted(text)), (.host?, let .dotted(text)):
            guard let bytes = AddressText.dottedBytes(text, spelling: .canonical), bytes.count == 4 else { return nil }
            return AddressPrefix(bytes: bytes, length: 32)
        case (nil, let .ipv6(text)), (.host?, let .ipv6(text)):
            return AddressText.ipv6(text, dottedTail: nil).flatMap { AddressPrefix(bytes: $0, length: 128) }
        case let (.net?, .ipv6(text)):
            // `net 2001:db8::1` is `net 2001:db8::1/128`.
            return AddressText.ipv6(text, dottedTail: nil).flatMap { AddressPrefix(bytes: $0, length: 128) }
        case let (.net?, .dotted(text)):
            // `net 192.0.2.7` is `net 192.0.2.7/32`, `net 10.1` is `net 10.1.0.0/16` (libpcap's code is the same).
            guard let parts = AddressText.dottedBytes(text, spelling: .canonical), parts.count > 1 else { return nil }
            return AddressPrefix(bytes: parts + [UInt8](repeating: 0, count: 4 - parts.count), length: 8 * parts.count)
        case let (.net?, .masked(text, mask)):
            // `net 10.1.0.0 mask 255.255.0.0` is `net 10.1.0.0/16` when the mask is contiguous
            // (both written as four parts; libpcap reads shorter ones its own way).
            guard let bytes = AddressText.dottedBytes(text, spelling: .canonical), bytes.count == 4,
                  let maskBytes = AddressText.dottedBytes(mask, spelling: .canonical), maskBytes.count == 4 else { return nil }
            let bits = maskBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = bits.leadingZeroBitCount == 0 ? (~bits).leadingZeroBitCount : 0
            guard length > 0, bits == ~UInt32(0) << UInt32(32 - length) || length == 32 else { return nil }
            return AddressPrefix(bytes: bytes, length: length)
        case let (.net?, .prefix(text, length)):
            guard let bytes = AddressText.networkBytes(text) else { return nil }   // `10/8` is 10.0.0.0/8
            // `net 0/0` loads no address at all: it stays a filter.
            guard length > 0 else { return nil }
            return AddressPrefix(bytes: bytes, length: Int(length))
        default:
            return nil
        }
    }

    private static func port(_ expression: FilterExpression) -> (UInt8, UInt16, PacketSide)? {
        guard case let .qualified(qualifiers, .number(number), _, _) = expression, qualifiers.type == .port,
              let port = UInt16(exactly: number) else { return nil }
        let transport: UInt8
        switch qualifiers.proto {
        case .tcp?: transport = tcp
        case .udp?: transport = udp
        default: return nil
        }
        switch qualifiers.direction {
        case .source?: return (transport, port, .source)
        case .destination?: return (transport, port, .destination)
        default: return nil
        }
    }
}
