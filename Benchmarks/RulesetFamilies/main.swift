import DifferentialTesting
import Foundation

// Writes one generated ruleset and the frames aimed at it:
//   RulesetFamilies acl|firewall|ipchain COUNT [--seed N] [--frames N] [--name NAME] [--output DIR]
// → DIR/NAME.conf (rules.conf) and DIR/NAME.pcap (Ethernet frames, each one's first match a chosen
// rule, spread over the list), for `xdpfw bench NAME.conf --packets NAME.pcap`.

let usage = """
    usage: RulesetFamilies acl|firewall|ipchain COUNT [--seed N] [--frames N] [--name NAME] [--output DIR]
      Writes NAME.conf (COUNT rules of the family, the same for the same seed) and NAME.pcap
      (up to N frames, default 64, each aimed at one rule, spread evenly down to the last rule).
      NAME defaults to FAMILY-COUNT, DIR to the current directory, the seed to 1.
    """

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("RulesetFamilies: \(message)\n".utf8))
    exit(status)
}

var arguments = Array(CommandLine.arguments.dropFirst())
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
