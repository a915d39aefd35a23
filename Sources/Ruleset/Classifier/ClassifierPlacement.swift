/// Which rules the packet classifiers take and, for the others, why they stay filters or
/// lookups: what `xdpfw check` reports, one line per reason.
public struct ClassifierPlacement: Sendable {
    public enum Reason: String, Sendable, CaseIterable {
        case notFields
        case usesSet
        case longLookupRun
        case shortRun
        case classifierLimit

        /// Why, in the words `check` prints.
        public var explanation: String {
            switch self {
            case .notFields:
                "not only address, protocol, port and fragment tests (the classifier reads those fields; others run as filters)"
            case .usesSet:
                "use a set (a lookup, so that `xdpfw set` can change it in place)"
            case .longLookupRun:
                "in a long run of one lookup shape (a trie or hash lookup costs less than a classifier there)"
            case .shortRun:
                "in a run of fewer than \(Ruleset.defaultClassifierMinimumRun) classifiable rules between other rules (as cheap as filters there)"
            case .classifierLimit:
                "after the \(Ruleset.maximumClassifiers)th classifier (a program holds \(Ruleset.maximumClassifiers))"
            }
        }
    }

    /// How many classifiers the rules make.
    public var classifiers: Int
    /// How many rules they take.
    public var classifiedRules: Int
    /// The other rules' indexes by why; only reasons that apply.
    public var elsewhere: [(reason: Reason, rules: [Int])]
}

extension Ruleset {
    /// Where the rules go: into classifiers, or why not (`segments()` places them so).
    public var classifierPlacement: ClassifierPlacement {
        let candidates = classifierCandidates(minimumRun: nil)
        return classifierPlacement(candidates: candidates, runs: classifierRuns(classifiable: candidates.map { $0 == nil }))
    }

    /// The placement of `classifierCandidates` in `runs` (`classifierRuns(classifiable:)`).
    func classifierPlacement(candidates: [ClassifierPlacement.Reason?], runs: [Range<Int>]) -> ClassifierPlacement {
        var placed = [Bool](repeating: false, count: rules.count)
        for run in runs { for index in run { placed[index] = true } }
        var reasons: [ClassifierPlacement.Reason: [Int]] = [:]
        for index in rules.indices where !placed[index] {
            var reason = candidates[index] ?? .shortRun
            if reason == .shortRun, runs.count == Ruleset.maximumClassifiers, index >= runs.last!.upperBound,
               classifierMinimumRun != .max {
                // Would its run have been long enough?
                var start = index, end = index + 1
                while start > 0, candidates[start - 1] == nil { start -= 1 }
                while end < rules.count, candidates[end] == nil { end += 1 }
                if end - start >= classifierMinimumRun { reason = .classifierLimit }
            }
            reasons[reason, default: []].append(index)
        }
        return ClassifierPlacement(classifiers: runs.count, classifiedRules: runs.reduce(0) { $0 + $1.count },
                                   elsewhere: ClassifierPlacement.Reason.allCases.compactMap { reason in
                                       reasons[reason].map { (reason, $0) }
                                   })
    }
}
