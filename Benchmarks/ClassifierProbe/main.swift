import DifferentialTesting
import EBPF
import Foundation
import Kernel

// What the candidate classifier structures cost per packet on this machine: small XDP programs
// (ProbeProgram) run with BPF_PROG_TEST_RUN, a do-nothing program in the same run as the baseline.
//   ClassifierProbe [--repeat N] [--rounds N] [--quick]     (root)
// Prints one line per probe (gross ns, net ns = gross − baseline, map memory as the kernel counts
// it) and, with --json, one JSON object per line instead. Each program's answer is checked.
// docs/design-classifier.md reads these figures.

let usage = """
    usage: ClassifierProbe [--repeat N] [--rounds N] [--quick] [--json]
      Measures LPM and array tries, array and hash lookups, bit-vector AND + find-first-set,
      cut-tree walks, and a whole bit-vector classifier of each generated family (1,000 and
      10,000 rules) in the kernel (BPF_PROG_TEST_RUN, XDP), each against a do-nothing program
      in the same run; every program's answers are checked first. Needs root.
      --repeat N  runs per packet and call (default 20000); --rounds N  median of N rounds (default 3);
      --quick     skip the 100,000-prefix tries, W = 1,600 and the 10,000-rule classifiers;
      --json      one object per probe and line: probe, gross_ns, net_ns, baseline_ns, map_bytes.
    """
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name) else { return value }
    guard index + 1 < arguments.count, let number = Int(arguments[index + 1]), number > 0 else {
        FileHandle.standardError.write(Data("ClassifierProbe: \(name) needs a positive whole number\n\(usage)\n".utf8))
        exit(2)
    }
    return number
}
if arguments.contains("--help") { print(usage); exit(0) }
let repeatCount = UInt32(option("--repeat", default: 20_000))
let rounds = option("--rounds", default: 3)
let quick = arguments.contains("--quick")
let json = arguments.contains("--json")
guard KernelSupport.isRoot else {
    FileHandle.standardError.write(Data("ClassifierProbe: loading programs and BPF_PROG_TEST_RUN need root\n".utf8))
    exit(1)
}

/// One measured program: its packets and the value it must return for each.
struct Probe {
    var name: String
    var program: BPFProgram
    var maps: [BPFMap]
    var packets: [[UInt8]]
    var expected: [UInt32]
}

func load(_ name: String, _ instructions: [EBPFInstruction], maps: [MapName: BPFMap]) throws -> BPFProgram {
    var instructions = instructions
    try instructions.resolveMaps(maps.mapValues(\.fd))
    return try BPFProgram.load(type: .xdp, instructions: instructions.encoded, name: name)
}

/// The map's memory as the kernel accounts it (`memlock` in /proc/self/fdinfo).
func memoryBytes(_ map: BPFMap) -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/fdinfo/\(map.fd)", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("memlock:") }
    return line.flatMap { Int($0.dropFirst("memlock:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
}

func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

var random = SeededRandom(seed: 2026)
func ipv4Frame(source: [UInt8], destination: [UInt8] = [192, 0, 2, 1], port: UInt16 = 443) -> [UInt8] {
    PacketBuilder.ethernet(type: 0x0800, PacketBuilder.ipv4(source: source, destination: destination, protocol: 6,
                                                            PacketBuilder.tcp(source: 40000, destination: port)))
}
func ipv6Frame(source: [UInt8]) -> [UInt8] {
    PacketBuilder.ethernet(type: 0x86dd, PacketBuilder.ipv6(source: source, nextHeader: 6, PacketBuilder.tcp(source: 40000, destination: 443)))
}

// MARK: The probes

var probes: [Probe] = []
let nothing = try load("probe_nothing", try ProbeProgram.nothing(), maps: [:])
let baselinePackets = [ipv4Frame(source: [10, 0, 0, 1])]

for ipv6 in [false, true] {
    for count in quick ? [1_000, 10_000] : [1_000, 10_000, 100_000] {
        let prefixes = PrefixTable(count: count, ipv6: ipv6, random: &random)
        let map = try BPFMap.create(type: .lpmTrie, keySize: 4 + (ipv6 ? 16 : 4), valueSize: 4, maxEntries: count, name: "probe_lpm")
        try map.updateBatch(prefixes.prefixes.enumerated().map { (le32(UInt32($1.length)) + $1.bytes, le32(UInt32($0))) })
        let addresses = (0..<8).map { _ in prefixes.prefixes[random.next(count)].randomAddress(using: &random) }
        probes.append(Probe(name: "LPM trie IPv\(ipv6 ? 6 : 4), \(count) prefixes",
                            program: try load("probe_lpm", try ProbeProgram.prefixLookup(ipv6: ipv6), maps: [.table: map]),
                            maps: [map], packets: addresses.map { ipv6 ? ipv6Frame(source: $0) : ipv4Frame(source: $0) },
                            expected: addresses.map { prefixes.longestMatch($0).map(UInt32.init) ?? UInt32.max }))
    }
}

for count in [1_000, 10_000] {   // the same kind of prefixes as the LPM tries, in an array
    let prefixes = PrefixTable(count: count, ipv6: false, random: &random)
    let trie = ArrayTrie(prefixes.prefixes)
    let map = try BPFMap.create(type: .array, keySize: 4, valueSize: 4, maxEntries: trie.entries.count, name: "probe_trie")
    try map.updateBatch(trie.entries.enumerated().map { (le32(UInt32($0)), le32($1)) })
    let addresses = (0..<8).map { _ in prefixes.prefixes[random.next(count)].randomAddress(using: &random) }
    probes.append(Probe(name: "array trie 16-8-8 IPv4, \(count) prefixes",
                        program: try load("probe_trie", try ProbeProgram.arrayTrieLookup(), maps: [.trie: map]),
                        maps: [map], packets: addresses.map { ipv4Frame(source: $0) },
                        expected: addresses.map { prefixes.longestMatch($0).map(UInt32.init) ?? UInt32.max }))
}

do {
    let ports = try BPFMap.create(type: .array, keySize: 4, valueSize: 4, maxEntries: 65_536, name: "probe_ports")
    try ports.updateBatch((0..<65_536).map { (le32(UInt32($0)), le32(UInt32($0) ^ 0x5a5a)) })
    let portList: [UInt16] = [22, 443, 8080, 50_000]
    probes.append(Probe(name: "array lookup (65,536 ports)", program: try load("probe_array", try ProbeProgram.portArrayLookup(), maps: [.table: ports]),
                        maps: [ports], packets: portList.map { ipv4Frame(source: [10, 0, 0, 1], port: $0) },
                        expected: portList.map { UInt32($0) ^ 0x5a5a }))
    for count in [10_000, 100_000] {
        let tuples = try BPFMap.create(type: .hash, keySize: 16, valueSize: 4, maxEntries: count, name: "probe_tuples")
        var entries: [(key: [UInt8], value: [UInt8])] = []
        var frames: [[UInt8]] = []
        for index in 0..<count {
            let source: [UInt8] = [10, UInt8(random.next(256)), 0, 0]   // a /16: the tuple masks the rest
            let port = UInt16(1 + random.next(65_535))
            let key = source + [192, UInt8(index >> 16), UInt8(index >> 8 & 0xff), UInt8(index & 0xff)] + [0x9c, 0x40] + [UInt8(port >> 8), UInt8(port & 0xff)] + le32(6)
            entries.append((key, le32(UInt32(index))))
            if frames.count < 8, index % (count / 8) == 0 {
                frames.append(ipv4Frame(source: source.enumerated().map { $0 < 2 ? $1 : UInt8(random.next(256)) },
                                        destination: Array(key[4..<8]), port: port))
            }
        }
        try tuples.updateBatch(entries)
        probes.append(Probe(name: "hash lookup, 16-byte masked 5-tuple, \(count) entries",
                            program: try load("probe_hash", try ProbeProgram.tupleHashLookup(sourceMask: 0xffff_0000, destinationMask: 0xffff_ffff),
                                              maps: [.table: tuples]),
                            maps: [tuples], packets: frames, expected: (0..<frames.count).map { UInt32($0 * (count / 8)) }))
    }
}

for words in quick ? [16, 160] : [16, 160, 1_600] {
    for (fields, unrolled, place, word) in [(5, 1, "first word", 0), (5, 1, "last word", words - 1), (3, 1, "last word", words - 1),
                                            (5, 4, "last word", words - 1)] {
        let vectors = try BPFMap.create(type: .array, keySize: 4, valueSize: 8 * words, maxEntries: fields, name: "probe_vectors")
        for field in 0..<fields {   // field 0 has one bit (37 of `word`), the others all ones
            let value: [UInt64] = (0..<words).map { field > 0 ? .max : $0 == word ? 1 << 37 : 0 }
            try vectors.update(key: le32(UInt32(field)), value: value.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } })
        }
        probes.append(Probe(name: "bit vectors: AND of \(fields) × \(words) words\(unrolled > 1 ? " (×\(unrolled) unrolled)" : ""), first set bit in the \(place)",
                            program: try load("probe_bits", try ProbeProgram.bitVectorSearch(fields: fields, words: words, unrolled: unrolled),
                                              maps: [.vectors: vectors]),
                            maps: [vectors], packets: baselinePackets, expected: [UInt32(word * 64 + 37)]))
    }
}

for levels in [2, 4, 8] {
    let tree = CutTree(levels: levels)
    let nodes = try BPFMap.create(type: .array, keySize: 4, valueSize: 16, maxEntries: tree.nodes.count, name: "probe_nodes")
    try nodes.updateBatch(tree.nodes.enumerated().map { (le32(UInt32($0)), $1.flatMap(le32)) })
    let flows = (0..<8).map { _ in ([UInt8(random.next(224)), 1, 2, 3], [198, 51, 100, UInt8(random.next(256))], UInt16(random.next(65_536))) }
    probes.append(Probe(name: "cut tree walk, \(levels) levels (16-way cuts)",
                        program: try load("probe_tree", try ProbeProgram.treeWalk(levels: levels), maps: [.nodes: nodes]),
                        maps: [nodes], packets: flows.map { ipv4Frame(source: $0.0, destination: $0.1, port: $0.2) },
                        expected: flows.map { UInt32(tree.leaf(source: $0.0, destination: $0.1, port: $0.2)) }))
}

for family in RulesetFamily.allCases {   // the recommended structure whole, on the generated families
    for count in quick ? [1_000] : [1_000, 10_000] {
        let generated = GeneratedRuleset(family: family, count: count, seed: 1)
        let classifier = BitVectorClassifier(generated.rules)
        func array(_ name: String, _ values: [[UInt8]]) throws -> BPFMap {
            let map = try BPFMap.create(type: .array, keySize: 4, valueSize: values[0].count, maxEntries: values.count, name: name)
            try map.updateBatch(values.enumerated().map { (le32(UInt32($0)), $1) })
            return map
        }
        let maps: [MapName: BPFMap] = [
            .vectors: try array("probe_vectors", classifier.vectors.map { $0.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }),
            .sourceTrie: try array("probe_trie", classifier.sourceTrie.entries.map(le32)),
            .destinationTrie: try array("probe_trie", classifier.destinationTrie.entries.map(le32)),
            .protocols: try array("probe_protocols", classifier.protocols.map(le32)),
            .sourcePorts: try array("probe_ports", classifier.sourcePorts.map(le32)),
            .destinationPorts: try array("probe_ports", classifier.destinationPorts.map(le32)),
        ]
        let program = try load("probe_lbvs", try classifier.program(), maps: maps)
        let aimed = generated.aimedFlows(count: 16).map(\.flow).filter { !$0.isIPv6 }
        var unmatched: [Flow] = []
        for _ in 0..<1_000 where unmatched.count < 8 {
            let flow = Flow(source: (0..<4).map { _ in UInt8(random.next(256)) }, destination: (0..<4).map { _ in UInt8(random.next(256)) },
                            ipProtocol: random.next(2) == 0 ? 6 : 17, sourcePort: UInt16(random.next(65_536)), destinationPort: UInt16(random.next(65_536)))
            if classifier.firstMatch(flow) == UInt32.max { unmatched.append(flow) }
        }
        for flow in aimed + unmatched where classifier.classify(flow) != classifier.firstMatch(flow) {
            throw KernelError.invalidArgument("\(family.rawValue) \(count): the tables give rule \(classifier.classify(flow)), "
                                              + "the rules' first match is \(classifier.firstMatch(flow)) for \(flow)")
        }
        for (what, flows) in [("frames aimed at rules", aimed), ("frames no rule matches", unmatched)] where !flows.isEmpty {
            let scans = flows.map(classifier.scan)
            FileHandle.standardError.write(Data(("\(family.rawValue) \(count), \(what): \(classifier.words) words; mean "
                + "\(scans.map(\.scanned).reduce(0, +) / scans.count) scanned, \(scans.map(\.candidates).reduce(0, +) / scans.count) "
                + "non-zero in all five vectors; split in groups by address wildcards: \(flows.map { classifier.partitionedScan($0).words }.max() ?? 0) "
                + "words, mean \(flows.map { classifier.partitionedScan($0).candidates }.reduce(0, +) / flows.count) of them non-zero in every field\n").utf8))
            probes.append(Probe(name: "bit-vector classifier, \(family.rawValue) \(count) (\(classifier.rules.count) IPv4), \(what)",
                                program: program, maps: what == "frames aimed at rules" ? Array(maps.values) : [],
                                packets: flows.map(\.frame), expected: flows.map(classifier.firstMatch)))
        }
    }
}

// MARK: Measuring

/// Mean kernel-measured ns per run over `packets`, after checking each answer.
func measure(_ program: BPFProgram, _ packets: [[UInt8]], expected: [UInt32]?) throws -> Double {
    var total = 0.0
    for (index, packet) in packets.enumerated() {
        if let expected {
            let answer = try program.testRun(packet: packet).returnValue
            guard answer == expected[index] else {
                throw KernelError.invalidArgument("\(program.name): packet \(index) gave \(answer), expected \(expected[index])")
            }
        }
        total += Double(try program.testRun(packet: packet, repeat: repeatCount).durationNanoseconds)
    }
    return total / Double(packets.count)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

var baselines: [Double] = []
var gross = [[Double]](repeating: [], count: probes.count)
for round in 0..<rounds {
    baselines.append(try measure(nothing, baselinePackets, expected: nil))
    for (index, probe) in probes.enumerated() {
        gross[index].append(try measure(probe.program, probe.packets, expected: round == 0 ? probe.expected : nil))
    }
}
let baseline = median(baselines)
/// `text` padded to `width` columns (on the left when `right`).
func column(_ text: String, _ width: Int, right: Bool = true) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}
func figure(_ value: Double) -> String { String(format: "%.1f", value) }
if !json {
    print(column("probe (XDP, BPF_PROG_TEST_RUN, repeat \(repeatCount), median of \(rounds))", 70, right: false)
          + column("gross ns", 10) + column("net ns", 10) + column("map bytes", 12))
    print(column("do-nothing program (baseline)", 70, right: false) + column(figure(baseline), 10))
}
for (index, probe) in probes.enumerated() {
    let grossNs = median(gross[index]), bytes = probe.maps.map(memoryBytes).reduce(0, +)
    if json {
        print("{\"probe\": \"\(probe.name)\", \"gross_ns\": \(figure(grossNs)), \"net_ns\": \(figure(grossNs - baseline)), "
              + "\"baseline_ns\": \(figure(baseline)), \"map_bytes\": \(bytes), \"repeat\": \(repeatCount), \"rounds\": \(rounds)}")
    } else {
        print(column(probe.name, 70, right: false) + column(figure(grossNs), 10) + column(figure(grossNs - baseline), 10) + column("\(bytes)", 12))
    }
}
