import EBPF

/// Which rules the packet classifiers take and, for the others, why they stay filters or
/// lookups: what `xdpfw check` reports, one line per reason.
public struct ClassifierPlacement: Sendable {
    public enum Reason: String, Sendable, CaseIterable {
        case notFields
        case usesSet
        case setNotTestable
        case tooManySets
        case longLookupRun
        case tooFew

        /// Why, in the words `check` prints.
        public var explanation: String {
            switch self {
            case .notFields:
                "not only address, protocol, port, fragment, TCP flag and ICMP type tests (the classifier reads those fields and `not` of an address beside a protocol; others run as filters)"
            case .usesSet:
                "use a set in a lookup (a trie or hash of its entries, which `xdpfw set` changes in place)"
            case .setNotTestable:
                "name a set as the classifier cannot test it (`not @S`; `host @S` or `src or dst`, `src and dst` — one side per set; ports; IPv6 entries of /96 or shorter; or beside tests it does not read: those run as filters)"
            case .tooManySets:
                "test sets beyond the first \(PacketClassifier.maximumSetTests) (set, side) pairs a classifier reads (each is a lookup per packet)"
            case .longLookupRun:
                "in a long run of one lookup shape (a trie or hash lookup costs less than a classifier there)"
            case .tooFew:
                "fewer than \(Ruleset.defaultClassifierMinimumRun) rules could go into a classifier (as cheap as filters and lookups)"
            }
        }
    }

    /// How many classifiers the rules make (one takes the decomposable rules wherever they
    /// stand, up to `Ruleset.classifierMaximumRules` each).
    public var classifiers: Int
    /// How many places in the order their rules stand in (runs between other rules).
    public var parts: Int
    /// How many rules they take.
    public var classifiedRules: Int
    /// The other rules' indexes by why; only reasons that apply.
    public var elsewhere: [(reason: Reason, rules: [Int])]
}

extension Ruleset {
    /// Where the rules go: into classifiers, or why not (`segments()` places them so).
    public var classifierPlacement: ClassifierPlacement {
        let candidates = classifierCandidates(minimumRun: nil)
        return classifierPlacement(candidates: candidates, classifiers: classifierParts(classifiable: candidates.map { $0 == nil }))
    }

    /// The placement of `classifierCandidates` in `classifiers` (`classifierParts(classifiable:)`).
    func classifierPlacement(candidates: [ClassifierPlacement.Reason?], classifiers: [[Range<Int>]]) -> ClassifierPlacement {
        var reasons: [ClassifierPlacement.Reason: [Int]] = [:]
        for index in rules.indices where classifiers.isEmpty || candidates[index] != nil {
            reasons[candidates[index] ?? .tooFew, default: []].append(index)
        }
        let parts = classifiers.joined()
        return ClassifierPlacement(classifiers: classifiers.count, parts: parts.count,
                                   classifiedRules: parts.reduce(0) { $0 + $1.count },
                                   elsewhere: ClassifierPlacement.Reason.allCases.compactMap { reason in
                                       reasons[reason].map { (reason, $0) }
                                   })
    }
}
