import Foundation

/// Writes frames as a classic pcap file (microsecond timestamps, Ethernet unless `linkType`
/// says otherwise), each with its captured length as wire length: what tests hand to `xdpfw test`.
public enum CaptureFileWriter {
    public static func pcap(_ frames: [[UInt8]], linkType: UInt32 = 1) -> Data {
        func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        var bytes = le32(0xa1b2_c3d4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(262144) + le32(linkType)
        for frame in frames {
            bytes += le32(0) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
        }
        return Data(bytes)
    }
}
