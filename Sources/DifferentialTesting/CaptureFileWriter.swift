import Foundation
import PacketFormats

/// Writes frames as a classic pcap file (microsecond timestamps, Ethernet unless `linkType`
/// says otherwise), each with its captured length as wire length: what tests hand to `xdpfw test`.
public enum CaptureFileWriter {
    public static func pcap(_ frames: [[UInt8]], linkType: UInt32 = 1) -> Data {
        Data(CaptureFileFormat.fileHeader(linkType: linkType)
             + frames.flatMap { CaptureFileFormat.record($0, wireLength: UInt32($0.count)) })
    }
}
