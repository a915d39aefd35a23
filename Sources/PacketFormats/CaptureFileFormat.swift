/// The classic pcap file format (what `tcpdump -w` writes and `tcpdump -r` reads): a 24-byte
/// file header, then per packet a 16-byte record header (time, captured and wire length) and
/// the captured bytes; little-endian, microsecond timestamps.
public enum CaptureFileFormat {
    /// DLT_EN10MB.
    public static let ethernet: UInt32 = 1

    public static func fileHeader(linkType: UInt32 = ethernet, snapLength: UInt32 = 262_144) -> [UInt8] {
        le32(0xa1b2_c3d4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(snapLength) + le32(linkType)
    }

    /// One packet: `bytes` as captured, `wireLength` as it was, at `unixNanoseconds`.
    public static func record(_ bytes: [UInt8], wireLength: UInt32, unixNanoseconds: UInt64 = 0) -> [UInt8] {
        le32(UInt32(truncatingIfNeeded: unixNanoseconds / 1_000_000_000))
            + le32(UInt32(unixNanoseconds % 1_000_000_000 / 1_000))
            + le32(UInt32(bytes.count)) + le32(max(wireLength, UInt32(bytes.count))) + bytes
    }

    private static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}
