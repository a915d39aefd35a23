/// The syntax tree of a pcap-filter expression, as the parser hands it to the compiler.
///
/// The parser resolves what libpcap's grammar resolves while parsing (the qualifiers an `id`
/// inherits from the primitive before it, the named constants such as `tcp-syn` or `icmp-echo`),
/// and leaves to the compiler everything that needs protocol knowledge or a name service
/// (service and protocol names, host names, which protocols a qualifier combination allows).
/// Every node carries the source range it came from, so errors can point at it.

/// A half-open range of UTF-8 byte offsets into the expression text.
public struct SourceRange: Hashable, Sendable {
    public var start: Int
    public var end: Int
    public init(_ start: Int, _ end: Int) { self.start = start; self.end = end }
    public init(at offset: Int) { self.start = offset; self.end = offset + 1 }
}

/// Protocol qualifiers and the protocol names that stand alone (`tcp`, `ip6`, `arp`, `link`...).
/// Raw values are the keywords as written.
public enum ProtocolQualifier: String, Hashable, Sendable, CaseIterable {
    case link, ether, fddi, tr, wlan, ppp, slip
    case ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp, igrp, pim, vrrp, carp, ah, esp
    case atalk, aarp, decnet, lat, sca, moprc, mopdl, iso, esis = "es-is", isis = "is-is"
    case l1, l2, iih, lsp, snp, csnp, psnp, clnp, stp, ipx, netbeui, radio
}

/// Direction qualifiers (`src`, `dst`, `src or dst`, `src and dst`, and the 802.11 address names).
public enum DirectionQualifier: String, Hashable, Sendable, CaseIterable {
    case source = "src"
    case destination = "dst"
    case sourceOrDestination = "src or dst"
    case sourceAndDestination = "src and dst"
    case address1 = "addr1", address2 = "addr2", address3 = "addr3", address4 = "addr4"
    case receiver = "ra", transmitter = "ta"
}

/// Type qualifiers: what kind of thing the id names.
public enum TypeQualifier: String, Hashable, Sendable, CaseIterable {
    case host, net, port, portrange, gateway, proto, protochain
}

/// The qualifiers in force for one primitive. `nil` means "not given" (libpcap's Q_DEFAULT).
public struct Qualifiers: Hashable, Sendable {
    public var proto: ProtocolQualifier?
    public var direction: DirectionQualifier?
    public var type: TypeQualifier?
    public init(proto: ProtocolQualifier? = nil, direction: DirectionQualifier? = nil, type: TypeQualifier? = nil) {
        self.proto = proto; self.direction = direction; self.type = type
    }
}

/// The operand of a qualified primitive, as the lexer classified it.
public enum Identifier: Hashable, Sendable {
    /// A plain number: `80`, `0x1f`, `017` (libpcap's NUM).
    case number(UInt32)
    /// Dotted decimal with one to four parts: `10`, `192.168`, `1.2.3.4` (libpcap's HID).
    case dotted(String)
    /// An IPv6 address: `::1`, `fe80::1` (HID6).
    case ipv6(String)
    /// An Ethernet address: `0:1:2:3:4:5`, `00-11-22-33-44-55`, `0011.2233.4455` (EID).
    case mac(String)
    /// A name: host, network, service, protocol, or a range `1-1024` (ID). `\tcp` arrives as `tcp`.
    case name(String)
    /// `ADDR/LEN`, IPv4 (dotted) or IPv6.
    case prefix(String, length: UInt32)
    /// `ADDR mask MASK`.
    case masked(String, mask: String)
}

/// Relational operators of `arith relop arith`.
public enum RelationalOperator: String, Hashable, Sendable, CaseIterable {
    case greater = ">", greaterOrEqual = ">=", equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<="
}

/// Binary operators of arithmetic expressions.
public enum ArithmeticBinaryOperator: String, Hashable, Sendable, CaseIterable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%"
    case and = "&", or = "|", xor = "^", shiftLeft = "<<", shiftRight = ">>"
}

/// Arithmetic on packet bytes and constants.
public indirect enum ArithmeticExpression: Hashable, Sendable {
    case constant(UInt32, SourceRange)
    /// `len`: the packet length.
    case length(SourceRange)
    /// `proto[index]` or `proto[index : size]`; size is 1, 2 or 4 (1 when omitted).
    case load(ProtocolQualifier, index: ArithmeticExpression, size: UInt32, SourceRange)
    case binary(ArithmeticBinaryOperator, ArithmeticExpression, ArithmeticExpression, SourceRange)
    case negate(ArithmeticExpression, SourceRange)

    public var range: SourceRange {
        switch self {
        case let .constant(_, r), let .length(r), let .load(_, _, _, r), let .binary(_, _, _, r), let .negate(_, r): return r
        }
    }
}

/// Link-level and encapsulation keywords that take an optional number.
public enum EncapsulationKeyword: String, Hashable, Sendable, CaseIterable {
    case vlan, mpls, pppoes, geneve
}

/// The operators of `byte N op M`.
public enum ByteOperator: String, Hashable, Sendable, CaseIterable {
    case and = "&", or = "|", less = "<", greater = ">", equal = "="
}

/// The primitives that are not `qualifiers id`.
public enum SpecialPrimitive: Hashable, Sendable {
    /// `[ether|ip|ip6] broadcast`
    case broadcast(ProtocolQualifier?)
    /// `[ether|ip|ip6] multicast`
    case multicast(ProtocolQualifier?)
    /// `less N`, `greater N`
    case less(UInt32), greater(UInt32)
    /// `vlan [N]`, `mpls [N]`, `pppoes [N]`, `geneve [N]`
    case encapsulation(EncapsulationKeyword, UInt32?)
    /// `pppoed`
    case pppoeDiscovery
    /// `llc [i|s|u|rr|rnr|rej|ui|ua|disc|sabme|test|xid|frmr]` (subtype as written, nil when bare)
    case llc(String?)
    /// `byte N op M`: libpcap's own test of the byte at link-layer offset N. Not the same as
    /// `link[N] op M`: with `&` it tests `M & accumulator` without loading the byte, with `|`
    /// it is true when `accumulator | M` is non-zero, so the compiler needs it as written.
    case byte(offset: UInt32, ByteOperator, UInt32)
    /// `inbound`, `outbound`, `ifindex N`
    case inbound, outbound
    case interfaceIndex(UInt32)
    /// Anything else libpcap parses but that has no meaning on Ethernet (pf fields, 802.11
    /// type/subtype/dir, ATM, MTP2/MTP3, `vxlan`...): kept by keyword so the compiler can give
    /// libpcap's error.
    case unsupported(String)
}

/// A whole filter expression.
public indirect enum FilterExpression: Hashable, Sendable {
    /// The empty expression: matches every packet.
    case empty
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression, SourceRange)
    /// `qualifiers id`: `src host 10.0.0.1`, `tcp port 80`, `net 10/8`, `ether proto \ip`.
    /// `inherited` is true when the qualifiers were carried over from the primitive before
    /// (`host a or b`).
    case qualified(Qualifiers, Identifier, inherited: Bool, SourceRange)
    /// A protocol name alone: `tcp`, `ip6`, `arp`, `stp`, `l1`...
    case proto(ProtocolQualifier, SourceRange)
    /// `arith relop arith`
    case comparison(RelationalOperator, ArithmeticExpression, ArithmeticExpression, SourceRange)
    case special(SpecialPrimitive, SourceRange)
}

/// An error in an expression, with the range it points at.
public struct FilterError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var range: SourceRange
    public init(_ message: String, at range: SourceRange) { self.message = message; self.range = range }
    public var description: String { message }
}

extension FilterExpression {
    /// Whether the expression tests 802.1Q/802.1ad tags with the `vlan` keyword somewhere.
    public var testsVLANTags: Bool {
        switch self {
        case .empty, .qualified, .proto, .comparison: false
        case let .and(left, right), let .or(left, right): left.testsVLANTags || right.testsVLANTags
        case let .not(inner, _): inner.testsVLANTags
        case let .special(primitive, _):
            if case .encapsulation(.vlan, _) = primitive { true } else { false }
        }
    }
}
