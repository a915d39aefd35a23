import CSystemLibraries

/// One packet of a capture file: the captured bytes and the length it had on the wire.
public struct CapturedPacket: Hashable, Sendable {
    public var bytes: [UInt8]
    public var wireLength: UInt32

    public init(bytes: [UInt8], wireLength: UInt32) {
        self.bytes = bytes
        self.wireLength = wireLength
    }
}

public struct CaptureFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A pcap or pcapng file read whole through libpcap (`pcap_open_offline` + `pcap_next_ex`).
public struct CaptureFile: Sendable {
    /// The file's link-layer header type (a DLT_ value: 1 is Ethernet).
    public var linkType: Int32
    public var packets: [CapturedPacket]
    /// Why reading stopped early (a truncated file), with the packets before it kept.
    public var readError: String?

    /// DLT_EN10MB.
    public static let ethernet: Int32 = 1

    /// The link type as tcpdump names it (`RAW (Raw IP)`), or its number when libpcap has no name.
    public var linkTypeName: String {
        guard let name = pcap_datalink_val_to_name(linkType) else { return "\(linkType)" }
        let description = pcap_datalink_val_to_description(linkType).map { " (" + String(cString: $0) + ")" } ?? ""
        return String(cString: name) + description
    }

    public init(path: String) throws(CaptureFileError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_open_offline(path, &errorBuffer) else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // libpcap names the file when the open fails, not when the format is unknown.
            throw CaptureFileError(message: message.hasPrefix("\(path):") ? message : "\(path): \(message)")
        }
        defer { pcap_close(handle) }
        linkType = pcap_datalink(handle)
        packets = []
        readError = nil
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == 1, let header, let data {
                let bytes = Array(UnsafeBufferPointer(start: data, count: Int(header.pointee.caplen)))
                packets.append(CapturedPacket(bytes: bytes, wireLength: header.pointee.len))
            } else if status == -2 {
                break
            } else {
                readError = String(cString: pcap_geterr(handle))
                break
            }
        }
    }
}
