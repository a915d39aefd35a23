/// The Internet checksum (RFC 1071) that IPv4, ICMP, TCP and UDP headers carry: the one's
/// complement of the one's-complement sum of the bytes as big-endian 16-bit words (an odd last
/// byte padded with zero).
public enum InternetChecksum {
    public static func of(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count { sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1]); index += 2 }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// Writes the checksum of `pseudoHeader` and `header` (whose checksum field is zero)
    /// big-endian into the field at `offset` of `header`.
    public static func fill(_ header: inout [UInt8], at offset: UInt32, pseudoHeader: [UInt8] = []) {
        let sum = of(pseudoHeader + header)
        header[Int(offset)] = UInt8(sum >> 8)
        header[Int(offset) + 1] = UInt8(sum & 0xff)
    }
}
