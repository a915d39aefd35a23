import Kernel
import PacketFormats

/// Reading capture files named on the command line for the kernel's test runs (`test`, `bench`).
public enum CaptureInput {
    /// The frames of an Ethernet capture file, or a failure that names the file and the reason.
    public static func capture(at path: String) throws -> CaptureFile {
        let capture: CaptureFile
        do { capture = try CaptureFile(path: path) } catch { throw CommandFailure(error.message) }
        guard capture.linkType == CaptureFile.ethernet else {
            throw CommandFailure("\(path): link-type \(capture.linkTypeName) is not Ethernet (EN10MB); xdpfw filters Ethernet frames")
        }
        return capture
    }

    /// Why a frame of `count` bytes cannot be test-run, nil when it can. Past `limit` the kernel
    /// refuses it (TC) or hands the program only the first `limit` bytes (XDP), so any verdict
    /// or time would be for another packet.
    public static func untestable(_ count: Int, limit: Int) -> (error: String, reason: String)? {
        let ethernetHeader = Int(Protocols.Ethernet.headerLength)
        if count < ethernetHeader {
            return ("frame of \(count) bytes is shorter than an Ethernet header",
                    "the frame has \(count) bytes, shorter than an Ethernet header (\(ethernetHeader))")
        }
        if count > limit {
            return ("frame of \(count) bytes is longer than the \(limit) bytes the kernel's test run takes",
                    "the frame has \(count) bytes, more than the \(limit) the kernel's test run takes")
        }
        return nil
    }
}
