import DifferentialTesting
import Foundation

// Writes one generated ruleset and the frames aimed at it:
//   RulesetFamilies acl|firewall|ipchain COUNT [--seed N] [--frames N] [--name NAME] [--output DIR]
// → DIR/NAME.conf (rules.conf) and DIR/NAME.pcap (Ethernet frames, each one's first match a chosen
// rule, spread over the list), for `xdpfw bench NAME.conf --packets NAME.pcap`.

let usage = """
    usage: RulesetFamilies acl|firewall|ipchain COUNT [--seed N] [--frames N] [--name NAME] [--output DIR] [--stats]
      Writes NAME.conf (COUNT rules of the family, the same for the same seed) and NAME.pcap
      (up to N frames, default 64, each aimed at one rule, spread evenly down to the last rule).
      NAME defaults to FAMILY-COUNT, DIR to the current directory, the seed to 1.
      --stats also prints what the ruleset asks of a classifier's tables (distinct prefixes,
      port intervals, tuples, wildcards, bit-vector bytes).
    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("RulesetFamilies: \(message)\n".utf8))
    exit(status)
}

var arguments = Array(CommandLine.arguments.dropFirst())
let wantsStatistics = arguments.contains("--stats")
arguments.removeAll { $0 == "--stats" }
if arguments.contains("--help") || arguments.contains("-h") { print(usage); exit(0) }
var options: [String: String] = [:]
var positional: [String] = []
while !arguments.isEmpty {
    let word = arguments.removeFirst()
    if ["--seed", "--frames", "--name", "--output"].contains(word) {
        guard !arguments.isEmpty else { fail("\(word) needs a value\n\(usage)") }
        options[word] = arguments.removeFirst()
    } else if word.hasPrefix("-") {
        fail("unknown option '\(word)'\n\(usage)")
    } else {
        positional.append(word)
    }
}
guard positional.count == 2, let family = RulesetFamily(rawValue: positional[0]) else {
    fail("give a family (acl, firewall or ipchain) and a rule count\n\(usage)")
}
guard let count = Int(positional[1]), count > 0 else { fail("COUNT must be a positive whole number, not '\(positional[1])'") }
guard let seed = UInt64(options["--seed"] ?? "1") else { fail("--seed must be a whole number ≥ 0") }
guard let frames = Int(options["--frames"] ?? "64"), frames > 0 else { fail("--frames must be a positive whole number") }
let name = options["--name"] ?? "\(family.rawValue)-\(count)"
let directory = URL(fileURLWithPath: options["--output"] ?? ".")

let ruleset = GeneratedRuleset(family: family, count: count, seed: seed)
let aimed = ruleset.aimedFlows(count: frames)
do {
    try Data(ruleset.text.utf8).write(to: directory.appendingPathComponent(name + ".conf"))
    try CaptureFileWriter.pcap(aimed.map(\.flow.frame)).write(to: directory.appendingPathComponent(name + ".pcap"))
} catch {
    fail("\(error.localizedDescription)", status: 1)
}
let ipv6 = ruleset.rules.filter(\.isIPv6).count
print("\(name).conf: \(count) \(family.rawValue) rules (\(ipv6) IPv6), seed \(seed); "
      + "\(name).pcap: \(aimed.count) frames aimed at rules \(aimed.first.map { $0.rule + 1 } ?? 0)…\(aimed.last.map { $0.rule + 1 } ?? 0)")
if wantsStatistics {
    let statistics = FieldStatistics(ruleset.rules)
    print("""
        \(name): \(statistics.rules) rules, \(statistics.ipv6Rules) IPv6, \(statistics.words) words a bit vector
          distinct prefixes: source \(statistics.sourcePrefixes.ipv4) IPv4 + \(statistics.sourcePrefixes.ipv6) IPv6, \
        destination \(statistics.destinationPrefixes.ipv4) IPv4 + \(statistics.destinationPrefixes.ipv6) IPv6
          port ranges: source \(statistics.sourcePortRanges) (\(statistics.sourcePortIntervals) intervals), \
        destination \(statistics.destinationPortRanges) (\(statistics.destinationPortIntervals) intervals)
          wildcards: source \(statistics.wildcards.source), destination \(statistics.wildcards.destination), \
        source port \(statistics.wildcards.sourcePort), destination port \(statistics.wildcards.destinationPort), \
        protocol \(statistics.wildcards.protocol)
          ranges split into prefixes: \(statistics.prefixExpandedEntries) entries in \(statistics.tuples) tuples
          bit vectors (LBVS): \(statistics.bitVectorBytes) bytes
        """)
    let flows = aimed.filter { !$0.flow.isIPv6 }
    for partition in CutTreeEstimate.Partition.allCases {
        let tree = CutTreeEstimate(ruleset.rules, partition: partition)
        let walks = flows.map { tree.walk($0.flow) }
        func mean(_ values: [Int]) -> String { String(format: "%.1f", Double(values.reduce(0, +)) / Double(max(1, values.count))) }
        let right = zip(walks, flows).filter { $0.0.rule == $0.1.rule }.count
        print("""
              cut trees, IPv4 rules, partition by \(partition.rawValue): \(tree.trees) trees, \(tree.nodes) nodes, \
            \(tree.references) rule references, \(tree.bytes) bytes, depth \(tree.depth), \(tree.overfullLeaves) overfull leaves\
            \(tree.gaveUp ? " (gave up growing)" : "")
                aimed IPv4 frames: mean \(mean(walks.map(\.levels))) levels, \
            mean \(mean(walks.map(\.checked))) and most \(walks.map(\.checked).max() ?? 0) leaf rules checked, \
            \(right) of \(flows.count) answers right
            """)
    }
}
