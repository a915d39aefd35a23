/// Ethernet + IPv4 frames for the live benchmark, checksums filled in.
enum TrafficFrames {
    static let receiverMAC: [UInt8] = [0x02, 0x78, 0x66, 0x6c, 0x00, 0x02]
    static let senderMAC: [UInt8] = [0x02, 0x78, 0x66, 0x6c, 0x00, 0x01]

    /// A UDP datagram frame of `size` bytes in all (Ethernet header included, no FCS).
    static func udp(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16, size: Int) -> [UInt8] {
        let payload = [UInt8](repeating: 0x78, count: max(0, size - 42))
        let header = be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + payload.count)) + [0, 0]
        return ipv4(protocol: 17, source: source, destination: destination, payload: header + payload)
    }

    /// A TCP SYN frame, padded to 64 bytes.
    static func tcpSYN(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        let header = be16(sourcePort) + be16(destinationPort) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        return ipv4(protocol: 6, source: source, destination: destination, payload: header + [UInt8](repeating: 0, count: 10))
    }

    static func ipv4(protocol number: UInt8, source: [UInt8], destination: [UInt8], payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + payload.count)) + [0, 1, 0x40, 0, 64, number, 0, 0] + source + destination
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(header[i]) << 8 | UInt32(header[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        header[10] = UInt8((~sum >> 8) & 0xff)
        header[11] = UInt8(~sum & 0xff)
        return receiverMAC + senderMAC + [0x08, 0x00] + header + payload
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
}
