/// The decomposed rules seen so far, found by what could cover a later conjunction: its frame
/// family or none, its protocol or none, and the prefixes of its addresses at the lengths
/// earlier rules use. So `check` compares a rule with the few earlier rules that can hide it,
/// not with every earlier rule.

import EBPF
import PacketFormats

struct CoverIndex {
    /// What a conjunction is filed under first: its family, protocol and source prefix (each
    /// possibly none). Hashed as integers (the enums' synthesized hashing hashes their names).
    private struct Key: Hashable {
        var kind: Int
        var source: AddressPrefix?

        init(_ family: FrameFamily?, _ ipProtocol: UInt8?, _ source: AddressPrefix?) {
            let familyCode = family.map { FrameFamily.allCases.firstIndex(of: $0)! + 1 } ?? 0
            kind = familyCode << 9 | (ipProtocol.map { Int($0) } ?? 256)
            self.source = source
        }
    }

    /// The conjunctions under one key, by destination prefix, and the destination prefix
    /// lengths they use: a probe tries only those.
    private struct Destinations {
        var positions: [AddressPrefix?: [Int]] = [:]
        var lengths: [AddressFamily: Set<Int>] = [:]

        mutating func insert(_ position: Int, at destination: AddressPrefix?) {
            if positions[destination]?.last != position { positions[destination, default: []].append(position) }
            if let destination { lengths[destination.family, default: []].insert(destination.length) }
        }
    }

    /// The rules in the order they were added: their number among all rules, their conjunctions.
    private(set) var rules: [(index: Int, conjunctions: [FieldConjunction])] = []
    private var buckets: [Key: Destinations] = [:]
    /// The source prefix lengths earlier conjunctions use, per address family.
    private var sourceLengths: [AddressFamily: Set<Int>] = [:]

    mutating func insert(index: Int, _ conjunctions: [FieldConjunction]) {
        let position = rules.count
        rules.append((index, conjunctions))
        for conjunction in conjunctions {
            let key = Key(conjunction.family, conjunction.ipProtocol, conjunction.source)
            let destination = conjunction.destination
            buckets[key, default: Destinations()].insert(position, at: destination)
            if let source = conjunction.source { sourceLengths[source.family, default: []].insert(source.length) }
        }
    }

    /// The first rule added whose conjunctions `hides` says cover `later`'s.
    func firstHiding(_ later: [FieldConjunction], _ hides: ([FieldConjunction], [FieldConjunction]) -> Bool) -> (index: Int, conjunctions: [FieldConjunction])? {
        guard let probe = later.first else { return rules.first }
        var candidates = Set<Int>()
        for family in Set([probe.family, nil]) {
            for ipProtocol in Set([probe.ipProtocol, nil]) {
                for source in Self.covering(probe.source, sourceLengths) {
                    guard let destinations = buckets[Key(family, ipProtocol, source)] else { continue }
                    for destination in Self.covering(probe.destination, destinations.lengths) {
                        candidates.formUnion(destinations.positions[destination] ?? [])
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
