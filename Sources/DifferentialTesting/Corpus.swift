import Foundation
import Kernel

/// The shared test corpus (`../shared/corpus` next to the package root): pcap-filter expressions
/// libpcap accepts and rejects, and Ethernet captures. Absent in a user's clone; tests skip then.
public enum Corpus {
    /// An expression libpcap accepts, with the name of the libpcap test it came from.
    public struct Expression: Hashable, Sendable {
        public var name: String
        public var text: String

        public init(name: String, text: String) {
            self.name = name
            self.text = text
        }
    }

    /// An expression libpcap rejects, with libpcap's message.
    public struct Rejection: Hashable, Sendable {
        public var name: String
        public var text: String
        public var error: String
    }

    /// A packet of a corpus capture, named by file and position for reports.
    public struct Packet: Hashable, Sendable {
        public var file: String
        public var index: Int
        public var packet: CapturedPacket
        public var label: String { "\(file)#\(index)" }
    }

    /// The corpus folder, or nil when it is not there.
    public static let directory: String? = {
        let root = URL(fileURLWithPath: "\(#filePath)")
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.deletingLastPathComponent().appendingPathComponent("shared/corpus").standardizedFileURL.path
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue ? path : nil
    }()

    /// What a test says when it skips for want of the corpus.
    public static let missingMessage = "the shared corpus (../shared/corpus next to the package) is not present"

    public static let acceptedExpressions: [Expression] = rows("filters/accept-en10mb.tsv").compactMap { fields in
        fields.count >= 2 ? Expression(name: fields[0], text: fields[1]) : nil
    }

    public static let rejectedExpressions: [Rejection] = rows("filters/reject-en10mb.tsv").compactMap { fields in
        fields.count >= 3 ? Rejection(name: fields[0], text: fields[1], error: fields[2]) : nil
    }

    /// Every packet of every Ethernet capture in the corpus, and a note for each file that was
    /// skipped (another link type) or could not be read whole.
    public static let captures: (packets: [Packet], notes: [String]) = {
        guard let directory else { return ([], []) }
        let folder = directory + "/pcap"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        var packets: [Packet] = []
        var notes: [String] = []
        for name in names {
            do {
                let file = try CaptureFile(path: folder + "/" + name)
                guard file.linkType == CaptureFile.ethernet else {
                    notes.append("\(name): link type \(file.linkType), not Ethernet: skipped")
                    continue
                }
                if let error = file.readError { notes.append("\(name): \(error) (kept \(file.packets.count) packets)") }
                for (index, packet) in file.packets.enumerated() {
                    packets.append(Packet(file: name, index: index, packet: packet))
                }
            } catch {
                notes.append("\(name): \(error)")
            }
        }
        return (packets, notes)
    }()

    /// The tab-separated fields of a corpus table's lines, comments left out.
    static func rows(_ relativePath: String) -> [[String]] {
        guard let directory, let text = try? String(contentsOfFile: directory + "/" + relativePath, encoding: .utf8) else { return [] }
        var rows: [[String]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            // A line that starts with a tab continues the previous row's expression
            // (libpcap's multi-line tests such as `icmp_types`).
            if line.hasPrefix("\t"), var last = rows.popLast(), last.count >= 2 {
                let continuation = line.drop(while: { $0 == "\t" })
                last[1] = last[1].isEmpty ? String(continuation) : last[1] + "\n" + continuation
                rows.append(last)
                continue
            }
            rows.append(line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init))
        }
        return rows
    }
}
