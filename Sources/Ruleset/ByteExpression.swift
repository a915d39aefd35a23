import FilterLanguage
import PacketFormats

/// The one-byte loads a comparison may test (`RuleDecomposition.transportByte`) and the
/// comparison's sides computed for a value of that byte, with classic BPF's unsigned 32-bit
/// arithmetic; nil where the byte is a divisor or a shift (libpcap's interpreter and the
/// kernel's then differ, or the packet is rejected) or a constant divides by zero.
enum ByteExpression {
    struct Load: Equatable {
        var proto: ProtocolQualifier
        var offset: UInt32
        var field: PacketField
    }

    /// TCP's flags byte, the ICMP type, the ICMPv6 type: where the one load of the
    /// expression is one of them, that load (nil for other loads or none).
    static func load(in expression: ArithmeticExpression) -> Load? {
        var found: Load?
        var other = false
        func visit(_ e: ArithmeticExpression) {
            switch e {
            case .constant, .length: break
            case let .load(proto, .constant(offset, _), 1, _):
                let field: PacketField? = switch (proto, offset) {
                case (.tcp, Protocols.TCP.flagsField): .tcpFlags
                case (.icmp, Protocols.ICMP.typeField), (.icmp6, Protocols.ICMP.typeField): .icmpType
                default: nil
                }
                guard let field else { other = true; return }
                let load = Load(proto: proto, offset: offset, field: field)
                if let found, found != load { other = true }
                found = load
            case .load: other = true
            case let .binary(_, a, b, _): visit(a); visit(b)
            case let .negate(a, _): visit(a)
            }
        }
        visit(expression)
        return other ? nil : found
    }

    /// The expression's value when `load` reads `byte`; nil when it cannot be decided so.
    static func value(_ expression: ArithmeticExpression, _ load: Load, _ byte: UInt8) -> UInt32? {
        switch expression {
        case let .constant(value, _): return value
        case .length: return nil
        case let .load(proto, .constant(offset, _), 1, _) where proto == load.proto && offset == load.offset: return UInt32(byte)
        case .load: return nil
        case let .negate(a, _): return value(a, load, byte).map { 0 &- $0 }
        case let .binary(op, a, b, _):
            guard let x = value(a, load, byte), let y = value(b, load, byte) else { return nil }
            let constantRight = !reads(b)
            switch op {
            case .add: return x &+ y
            case .subtract: return x &- y
            case .multiply: return x &* y
            case .and: return x & y
            case .or: return x | y
            case .xor: return x ^ y
            case .divide: return constantRight && y != 0 ? x / y : nil
            case .modulo: return constantRight && y != 0 ? x % y : nil
            case .shiftLeft: return constantRight && y < 32 ? x << y : nil
            case .shiftRight: return constantRight && y < 32 ? x >> y : nil
            }
        }
    }

    /// The value of an expression of constants only; nil when it reads the packet or cannot be
    /// computed (a division by zero, a shift past 31 bits).
    static func constantValue(_ expression: ArithmeticExpression) -> UInt32? {
        guard !reads(expression) else { return nil }
        return value(expression, Load(proto: .tcp, offset: Protocols.TCP.flagsField, field: .tcpFlags), 0)
    }

    /// Whether the expression reads the packet at all (a load or the length).
    private static func reads(_ expression: ArithmeticExpression) -> Bool {
        switch expression {
        case .constant: false
        case .length, .load: true
        case let .binary(_, a, b, _): reads(a) || reads(b)
        case let .negate(a, _): reads(a)
        }
    }
}
