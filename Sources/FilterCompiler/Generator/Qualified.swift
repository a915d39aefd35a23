import FilterLanguage
import PacketFormats

/// `qualifiers id`: what the id means depends on its form (number, dotted, name, MAC, IPv6,
/// prefix) and on the type qualifier in force.
extension Generator {
    mutating func qualified(_ q: Qualifiers, _ id: Identifier) throws(FilterError) -> Fragment {
        switch id {
        case let .number(n): return try number(n, dotted: nil, q)
        case let .dotted(text): return try number(0, dotted: text, q)
        case let .name(name): return try named(name, q)
        case let .mac(text):
            guard q.type == nil || q.type == .host, q.proto.map(Self.isLink) ?? false else {
                throw fail("ethernet address used in non-ether expression")
            }
            guard let mac = AddressText.mac(text) else { throw fail("bogus ethernet address \(text)") }
            return try etherHostTest(mac, q.direction)
        case let .ipv6(text): return try ipv6(text, length: 128, q)
        case let .prefix(text, length):
            if text.contains(":") { return try ipv6(text, length: length, q) }
            guard let (address, bits) = AddressText.ipv4(text) else { throw fail("invalid IPv4 address '\(text)'") }
            if length > 32 { throw fail("mask length must be <= 32") }
            let network = address << (32 - bits)
            let mask: UInt32 = length == 0 ? 0 : 0xffff_ffff << (32 - length)
            if network & ~mask != 0 { throw fail("non-network bits set in \"\(text)/\(length)\"") }
            guard q.type == .net else { throw fail("Mask syntax for networks only") }
            return try ipv4Host(network, mask: mask, q)
        case let .masked(text, maskText):
            guard let (address, bits) = AddressText.ipv4(text) else { throw fail("invalid IPv4 address '\(text)'") }
            guard let (maskValue, maskBits) = AddressText.ipv4(maskText) else { throw fail("invalid IPv4 address '\(maskText)'") }
            let network = address << (32 - bits), mask = maskValue << (32 - maskBits)
            if network & ~mask != 0 { throw fail("non-network bits set in \"\(text) mask \(maskText)\"") }
            guard q.type == .net else { throw fail("Mask syntax for networks only") }
            return try ipv4Host(network, mask: mask, q)
        }
    }

    /// A protocol qualifier as libpcap's messages name it.
    static func name(_ p: ProtocolQualifier) -> String {
        switch p {
        case .isis: return "isis"
        case .esis: return "esis"
        default: return p.rawValue
        }
    }

    static func isLink(_ p: ProtocolQualifier) -> Bool {
        switch p {
        case .link, .ether, .fddi, .tr, .wlan, .ppp, .slip: return true
        default: return false
        }
    }

    /// A number, or a dotted IPv4 address with one to four parts.
    private mutating func number(_ value: UInt32, dotted: String?, _ q: Qualifiers) throws(FilterError) -> Fragment {
        var v = value
        var bits = 32
        if let dotted {
            if q.proto == .decnet {
                guard let address = AddressText.decnet(dotted) else { throw fail("malformed decnet address '\(dotted)'") }
                v = address
            } else {
                guard let (address, length) = AddressText.ipv4(dotted) else { throw fail("invalid IPv4 address '\(dotted)'") }
                v = address
                bits = length
            }
        }
        if dotted != nil, let type = q.type, [.port, .portrange, .proto, .protochain].contains(type) {
            throw fail("'\(type.rawValue)' modifier applied to ip host")
        }
        switch q.type {
        case nil, .host, .net:
            if q.proto == .decnet { return try decnetHost(v, q.direction) }
            if let p = q.proto, Self.isLink(p) { throw fail("illegal link layer address") }
            var mask: UInt32 = 0xffff_ffff
            if dotted == nil && q.type == .net {
                // A bare number names a network by its leading non-zero octets.
                while v != 0 && v & 0xff00_0000 == 0 { v <<= 8; mask <<= 8 }
            } else if bits < 32 {
                v <<= UInt32(32 - bits)
                mask <<= UInt32(32 - bits)
            }
            return try ipv4Host(v, mask: mask, q)
        case .port:
            let proto = try portProtocol(q, "port")
            return try ports(v, v, protocol: proto, q.direction, range: false)
        case .portrange:
            let proto = try portProtocol(q, "portrange")
            return try ports(v, v, protocol: proto, q.direction, range: true)
        case .gateway:
            throw fail("'gateway' requires a name")
        case .proto:
            return try protocolField(v, q)
        case .protochain:
            return try protocolChain(v, q)
        }
    }

    private mutating func ipv6(_ text: String, length: UInt32, _ q: Qualifiers) throws(FilterError) -> Fragment {
        guard let address = AddressText.ipv6(text) else { throw fail("invalid ip6 address \(text)") }
        if length > 128 { throw fail("mask length must be <= 128") }
        var mask = [UInt8](repeating: 0, count: 16)
        for i in 0 ..< Int(length / 8) { mask[i] = 0xff }
        if length % 8 != 0 { mask[Int(length / 8)] = UInt8(0xff << (8 - length % 8) & 0xff) }
        if zip(address, mask).contains(where: { $0 & ~$1 != 0 }) {
            throw fail("non-network bits set in \"\(text)/\(length)\"")
        }
        switch q.type {
        case nil, .host:
            if length != 128 { throw fail("Mask syntax for networks only") }
            return try ipv6Host(address, mask: mask, q)
        case .net:
            return try ipv6Host(address, mask: mask, q)
        default:
            throw fail("invalid qualifier against IPv6 address")
        }
    }

    /// A name: host, network, service, port range or protocol, by the type qualifier.
    private mutating func named(_ name: String, _ q: Qualifiers) throws(FilterError) -> Fragment {
        switch q.type {
        case .net:
            guard var address = names.network(name) else { throw fail("unknown network '\(name)'") }
            var mask: UInt32 = 0xffff_ffff
            while address != 0 && address & 0xff00_0000 == 0 { address <<= 8; mask <<= 8 }
            return try ipv4Host(address, mask: mask, q)
        case nil, .host:
            if let p = q.proto, Self.isLink(p) {
                guard let mac = names.etherHost(name) else { throw fail("unknown ether host '\(name)'") }
                return try etherHostTest(mac, q.direction)
            }
            if q.proto == .decnet {
                throw fail("decnet name support not included, '\(name)' cannot be translated")
            }
            let addresses = names.hostAddresses(name)
            if addresses.isEmpty { throw fail("unknown host '\(name)'") }
            var result: Fragment?
            for address in addresses {
                let test: Fragment
                switch address {
                case let .ipv4(a):
                    if q.proto == .ip6 { continue }
                    test = try ipv4Host(a, mask: 0xffff_ffff, q)
                case let .ipv6(bytes):
                    if q.proto == .ip { continue }
                    test = try ipv6Host(bytes, mask: [UInt8](repeating: 0xff, count: 16), q)
                }
                result = result.map { graph.or($0, test) } ?? test
            }
            guard let result else {
                throw fail("unknown host '\(name)'\(q.proto == nil ? "" : " for specified address family")")
            }
            return result
        case .port:
            let proto = try portProtocol(q, "port")
            let (port, real) = try service(name, for: proto, inRange: false)
            return try ports(port, port, protocol: real, q.direction, range: false)
        case .portrange:
            let proto = try portProtocol(q, "portrange")
            let parts = name.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw fail("unknown port in range '\(name)'")
            }
            let (low, lowProto) = try rangeEnd(parts[0], name, proto)
            let (high, highProto) = try rangeEnd(parts[1], name, proto)
            let real = lowProto == highProto ? lowProto : nil
            return try ports(low, high, protocol: proto ?? real, q.direction, range: true)
        case .gateway:
            // libpcap built with IPv6 support (as everywhere) refuses `gateway` outright.
            throw fail("'gateway' not supported in this configuration")
        case .proto:
            return try protocolField(try protocolNumber(name, q), q)
        case .protochain:
            return try protocolChain(try protocolNumber(name, q), q)
        }
    }

    /// One end of a port range: a number or a service name.
    private func rangeEnd(_ text: String, _ whole: String, _ proto: UInt32?) throws(FilterError) -> (UInt32, UInt32?) {
        if let n = AddressText.number(text) { return (n, proto) }
        return try service(text, for: proto, inRange: true, whole: whole)
    }

    /// A service name's port, and the protocol it is known for (nil: same port for TCP and UDP).
    private func service(_ name: String, for proto: UInt32?, inRange: Bool, whole: String? = nil) throws(FilterError) -> (UInt32, UInt32?) {
        typealias P = Protocols.IPProtocol
        let tcp = names.port(name, protocol: "tcp"), udp = names.port(name, protocol: "udp")
        let port: UInt32
        var real: UInt32?
        if let tcp {
            port = tcp
            real = udp == tcp ? nil : P.tcp
        } else if let udp {
            port = udp
            real = P.udp
        } else {
            throw fail(inRange ? "unknown port in range '\(whole ?? name)'" : "unknown port '\(name)'")
        }
        if let proto {
            if let real, real != proto {
                throw fail("\(inRange ? "port in range" : "port") '\(whole ?? name)' is \(real == P.tcp ? "tcp" : "udp")")
            }
            real = proto
        }
        return (port, real)
    }

    /// A protocol name for `proto` / `protochain` under the given qualifier.
    private func protocolNumber(_ name: String, _ q: Qualifiers) throws(FilterError) -> UInt32 {
        switch q.proto {
        case nil, .ip, .ip6:
            guard let n = names.ipProtocol(name) else { throw fail("unknown ip proto '\(name)'") }
            return n
        case let p? where Self.isLink(p):
            guard let n = Protocols.etherProtocolNames[name] else { throw fail("unknown ether proto '\(name)'") }
            return n
        case .iso:
            switch name {
            case "esis": return Protocols.ISO.esis
            case "isis": return Protocols.ISO.isis
            case "clnp": return Protocols.ISO.clnp
            default: throw fail("unknown osi proto '\(name)'")
            }
        default:
            throw fail("unknown protocol: \(name)")
        }
    }
}
