/// The decomposed rules seen so far, found by what could cover a later conjunction: its frame
/// family or none, its protocol or none, and the prefixes of its addresses at the lengths
/// earlier rules use. So `check` compares a rule with the few earlier rules that can hide it,
/// not with every earlier rule.

import EBPF
import PacketFormats

struct CoverIndex {
    private struct Key: Hashable {
        var family: FrameFamily?
        var ipProtocol: UInt8?
        var source: AddressPrefix?
        var destination: AddressPrefix?
    }

    /// The rules in the order they were added: their number among all rules, their conjunctions.
    private(set) var rules: [(index: Int, conjunctions: [FieldConjunction])] = []
    private var buckets: [Key: [Int]] = [:]
    /// The prefix lengths earlier conjunctions use, per address family and side.
    private var sourceLengths: [AddressFamily: Set<Int>] = [:]
    private var destinationLengths: [AddressFamily: Set<Int>] = [:]

    mutating func insert(index: Int, _ conjunctions: [FieldConjunction]) {
        let position = rules.count
        rules.append((index, conjunctions))
        for conjunction in conjunctions {
            let key = Key(family: conjunction.family, ipProtocol: conjunction.ipProtocol,
                          source: conjunction.source, destination: conjunction.destination)
            if buckets[key]?.last != position { buckets[key, default: []].append(position) }
            if let source = conjunction.source { sourceLengths[source.family, default: []].insert(source.length) }
            if let destination = conjunction.destination { destinationLengths[destination.family, default: []].insert(destination.length) }
        }
    }

    /// The first rule added whose conjunctions `hides` says cover `later`'s.
    func firstHiding(_ later: [FieldConjunction], _ hides: ([FieldConjunction], [FieldConjunction]) -> Bool) -> (index: Int, conjunctions: [FieldConjunction])? {
        guard let probe = later.first else { return rules.first }
        var candidates = Set<Int>()
        for family in Set([probe.family, nil]) {
            for ipProtocol in Set([probe.ipProtocol, nil]) {
                for source in Self.covering(probe.source, sourceLengths) {
                    for destination in Self.covering(probe.destination, destinationLengths) {
                        candidates.formUnion(buckets[Key(family: family, ipProtocol: ipProtocol, source: source, destination: destination)] ?? [])
                    }
                }
            }
        }
        return candidates.sorted().lazy.map { rules[$0] }.first { hides($0.conjunctions, later) }
    }

    /// No prefix, and the prefixes of `prefix` at the lengths in use.
    private static func covering(_ prefix: AddressPrefix?, _ lengths: [AddressFamily: Set<Int>]) -> [AddressPrefix?] {
        guard let prefix else { return [nil] }
        return [nil] + (lengths[prefix.family] ?? []).filter { $0 <= prefix.length }.map { prefix.truncated(to: $0) }
    }
}
