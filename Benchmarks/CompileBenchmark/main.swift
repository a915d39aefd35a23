// Compile throughput: our pipeline (parse, generate, optimize, lay out as classic BPF) against
// libpcap's pcap_compile (optimize=1, as tcpdump -d), over the corpus expressions libpcap accepts,
// in the same run. Usage: CompileBenchmark [ROUNDS] [accept-en10mb.tsv]
import ClassicBPF
import FilterCompiler
import FilterLanguage
import Foundation
import Kernel

let arguments = CommandLine.arguments.dropFirst()
let rounds = arguments.first.flatMap { Int($0) } ?? 5
let defaultTable = URL(fileURLWithPath: "\(#filePath)")
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/corpus/filters/accept-en10mb.tsv").standardizedFileURL.path
let tablePath = arguments.dropFirst().first ?? defaultTable

guard let table = try? String(contentsOfFile: tablePath, encoding: .utf8) else {
    FileHandle.standardError.write(Data("CompileBenchmark: cannot read \(tablePath) (the shared corpus); pass the path of accept-en10mb.tsv\n".utf8))
    exit(1)
}
let corpus = table.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> String? in
    let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
    return fields.count >= 2 ? String(fields[1]) : nil
}

func ours(_ text: String) -> [ClassicInstruction]? {
    (try? FilterCompiler.compile(text)).map(ClassicCodeGenerator.generate)
}

func libpcap(_ text: String) -> [ClassicInstruction]? {
    try? Libpcap.compile(text, optimize: true).get()
}

// Only expressions both compile, so both sides do the same work.
let expressions = corpus.filter { ours($0) != nil && libpcap($0) != nil }

/// Expressions per second for one pass over all of them.
func throughput(_ compile: (String) -> [ClassicInstruction]?) -> Double {
    let clock = ContinuousClock()
    var instructions = 0
    let elapsed = clock.measure {
        for text in expressions { instructions += compile(text)?.count ?? 0 }
    }
    precondition(instructions > 0)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(expressions.count) / seconds
}

func cell(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

print("compile throughput, \(expressions.count) corpus expressions per pass (of \(corpus.count)), \(rounds) rounds")
print("round   xdpfw expr/s   libpcap expr/s   ratio")
var ourRates: [Double] = []
var libpcapRates: [Double] = []
for round in 1...rounds {
    let ourRate = throughput(ours)
    let libpcapRate = throughput(libpcap)
    ourRates.append(ourRate)
    libpcapRates.append(libpcapRate)
    print(cell("\(round)", 5) + cell(String(format: "%.0f", ourRate), 15) + cell(String(format: "%.0f", libpcapRate), 17)
          + cell(String(format: "%.2fx", ourRate / libpcapRate), 8))
}
let median = { (rates: [Double]) in rates.sorted()[rates.count / 2] }
print("median" + cell(String(format: "%.0f", median(ourRates)), 14) + cell(String(format: "%.0f", median(libpcapRates)), 17)
      + cell(String(format: "%.2fx", median(ourRates) / median(libpcapRates)), 8))

// Where our time goes, over one more pass.
var stageTimes = [Duration](repeating: .zero, count: 4)
let clock = ContinuousClock()
for text in expressions {
    var expression: FilterExpression?
    var program: FilterProgram?
    var optimized: FilterProgram?
    stageTimes[0] += clock.measure { expression = try? FilterParser.parse(text) }
    stageTimes[1] += clock.measure { program = try? FilterCodeGenerator.generate(expression!, options: CompileOptions()) }
    stageTimes[2] += clock.measure { optimized = Optimizer.optimize(program!) }
    stageTimes[3] += clock.measure { _ = ClassicCodeGenerator.generate(optimized!) }
}
let total = stageTimes.reduce(.zero, +)
let shares = zip(["parse", "generate", "optimize", "layout"], stageTimes).map { name, time in
    String(format: "%@ %.0f%%", name, 100 * (time / total))
}
print("xdpfw time by stage: " + shares.joined(separator: ", "))
