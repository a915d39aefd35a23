import FilterLanguage
import PacketFormats

extension Protocols {
    /// The protocol a transport-level qualifier stands for, and the IP versions it runs on.
    static func ipProtocol(of qualifier: ProtocolQualifier) -> UInt32? {
        switch qualifier {
        case .tcp: return IPProtocol.tcp
        case .udp: return IPProtocol.udp
        case .sctp: return IPProtocol.sctp
        case .icmp: return IPProtocol.icmp
        case .icmp6: return IPProtocol.icmp6
        case .igmp: return IPProtocol.igmp
        case .igrp: return IPProtocol.igrp
        case .pim: return IPProtocol.pim
        case .vrrp, .carp: return IPProtocol.vrrp
        case .ah: return IPProtocol.ah
        case .esp: return IPProtocol.esp
        default: return nil
        }
    }
}
