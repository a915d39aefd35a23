import DifferentialTesting
import PacketFormats

/// Ethernet + IPv4 frames for the live benchmark: the test packet builders' headers, addressed
/// to the rig's veths, with the IPv4 checksum filled in (passed frames reach the stack).
enum TrafficFrames {
    static let receiverMAC: [UInt8] = [0x02, 0x78, 0x66, 0x6c, 0x00, 0x02]
    static let senderMAC: [UInt8] = [0x02, 0x78, 0x66, 0x6c, 0x00, 0x01]

    /// A UDP datagram frame of `size` bytes in all (Ethernet header included, no FCS).
    static func udp(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16, size: Int) -> [UInt8] {
        let datagram = PacketBuilder.udp(source: sourcePort, destination: destinationPort,
                                         [UInt8](repeating: 0x78, count: max(0, size - 42)))
        return ipv4(protocol: UInt8(Protocols.IPProtocol.udp), source: source, destination: destination, payload: datagram)
    }

    /// A TCP SYN frame, padded to 64 bytes.
    static func tcpSYN(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        let segment = PacketBuilder.tcp(source: sourcePort, destination: destinationPort, [UInt8](repeating: 0, count: 10))
        return ipv4(protocol: UInt8(Protocols.IPProtocol.tcp), source: source, destination: destination, payload: segment)
    }

    static func ipv4(protocol number: UInt8, source: [UInt8], destination: [UInt8], payload: [UInt8]) -> [UInt8] {
        var packet = PacketBuilder.ipv4(source: source, destination: destination, protocol: number, payload)
        var header = Array(packet[..<Int(Protocols.IPv4.minimumHeaderLength)])
        InternetChecksum.fill(&header, at: Protocols.IPv4.checksumField)
        packet.replaceSubrange(0..<header.count, with: header)
        return PacketBuilder.ethernet(destination: receiverMAC, source: senderMAC, type: UInt16(Protocols.EtherType.ip), packet)
    }
}
