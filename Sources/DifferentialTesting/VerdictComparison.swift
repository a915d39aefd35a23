import ClassicBPF
import Kernel

/// Runs two filters over the same packets and describes where they disagree.
public struct VerdictComparison: Sendable {
    public struct Difference: Sendable {
        public var sample: PacketSample
        public var expected: UInt32
        public var actual: UInt32
    }

    public var compared = 0
    /// How many packets the expected filter accepted (to see that a comparison is not vacuous).
    public var accepted = 0
    public var differences: [Difference] = []
    /// Differences beyond the first few are counted, not kept.
    public var differenceCount = 0

    public var agrees: Bool { differenceCount == 0 }

    /// Compares `actual` with `expected` on every sample: as accept/reject, or the exact
    /// return values (bytes to keep) when `exact`.
    public static func compare(_ samples: [PacketSample], exact: Bool = false, keep: Int = 3,
                               expected: (PacketSample) -> UInt32, actual: (PacketSample) -> UInt32) -> VerdictComparison {
        var result = VerdictComparison()
        for sample in samples {
            let want = expected(sample)
            let got = actual(sample)
            result.compared += 1
            if want != 0 { result.accepted += 1 }
            let same = exact ? want == got : (want != 0) == (got != 0)
            if !same {
                result.differenceCount += 1
                if result.differences.count < keep { result.differences.append(Difference(sample: sample, expected: want, actual: got)) }
            }
        }
        return result
    }

    /// libpcap's `bpf_filter` on `reference` against `ours` run by our interpreter and by
    /// libpcap's `bpf_filter`.
    public static func againstLibpcap(reference: [ClassicInstruction], ours: [ClassicInstruction], on samples: [PacketSample]) -> VerdictComparison {
        let referenceFilter = Libpcap.PreparedFilter(reference)
        let ourFilter = Libpcap.PreparedFilter(ours)
        var result = compare(samples, expected: { referenceFilter.run(packet: $0.bytes, wireLength: $0.wireLength) },
                             actual: { ClassicInterpreter.run(ours, packet: $0.bytes, wireLength: $0.wireLength) })
        let byLibpcap = compare(samples, expected: { referenceFilter.run(packet: $0.bytes, wireLength: $0.wireLength) },
                                actual: { ourFilter.run(packet: $0.bytes, wireLength: $0.wireLength) })
        result.differenceCount += byLibpcap.differenceCount
        result.differences += byLibpcap.differences.prefix(max(0, 3 - result.differences.count))
        return result
    }

    /// A readable account: how many differ, and for the first few the packet's name,
    /// both answers and the packet's bytes in hex.
    public func report(_ title: String) -> String {
        guard !agrees else { return "\(title): all \(compared) packets agree (\(accepted) accepted)" }
        var text = "\(title): \(differenceCount) of \(compared) packets differ"
        for difference in differences {
            text += "\n  \(difference.sample.label) (caplen \(difference.sample.bytes.count), wirelen \(difference.sample.wireLength)):"
            text += " expected \(difference.expected), got \(difference.actual)\n"
            text += Self.hexDump(difference.sample.bytes)
        }
        return text
    }

    public static func hexDump(_ bytes: [UInt8], limit: Int = 96) -> String {
        var text = ""
        for start in stride(from: 0, to: min(bytes.count, limit), by: 16) {
            let row = bytes[start..<min(start + 16, bytes.count, limit)]
            let offset = String(start, radix: 16)
            text += "    " + String(repeating: "0", count: max(0, 4 - offset.count)) + offset + ": "
            text += row.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ") + "\n"
        }
        if bytes.count > limit { text += "    ... \(bytes.count - limit) more bytes\n" }
        return text
    }
}
