// Compile throughput: our pipeline (parse, generate, optimize, lay out as classic BPF) against
// libpcap's pcap_compile (optimize=1, as tcpdump -d), over the corpus expressions both accept,
// in the same run, alternating the two in every round.
//
// Usage: CompileBenchmark [ROUNDS] [accept-en10mb.tsv]
//        CompileBenchmark --listing [FILE]   our -d text for every expression of FILE (the corpus
//                                            table, or one expression per line), to check that a
//                                            change for speed changes no output
import ClassicBPF
import FilterCompiler
import FilterLanguage
import Foundation
import DifferentialTesting

var arguments = Array(CommandLine.arguments.dropFirst())
let listing = arguments.first == "--listing"
if listing { arguments.removeFirst() }
let rounds = max(1, (listing ? nil : arguments.first.flatMap { Int($0) }) ?? 5)
if !listing, arguments.first.flatMap({ Int($0) }) != nil { arguments.removeFirst() }
let defaultTable = URL(fileURLWithPath: "\(#filePath)")
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("shared/corpus/filters/accept-en10mb.tsv").standardizedFileURL.path
let tablePath = arguments.first ?? defaultTable

guard let table = try? String(contentsOfFile: tablePath, encoding: .utf8) else {
    FileHandle.standardError.write(Data("CompileBenchmark: cannot read \(tablePath) (the shared corpus); pass the path of accept-en10mb.tsv\n".utf8))
    exit(1)
}
/// The corpus table's second column, or whole lines of a plain list; `#` starts a comment line.
let corpus = table.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line -> String in
    let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
    return String(fields.count >= 2 ? fields[1] : line)
}

func ours(_ text: String) -> [ClassicInstruction]? {
    (try? FilterCompiler.compile(text)).map(ClassicCodeGenerator.generate)
}

func libpcap(_ text: String) -> [ClassicInstruction]? {
    try? Libpcap.compile(text, optimize: true).get()
}

if listing {
    for text in corpus {
        print("== \(text)")
        do {
            print(ClassicPrinter.format(ClassicCodeGenerator.generate(try FilterCompiler.compile(text)), as: .assembly), terminator: "")
        } catch {
            print("error: \(error.rendered(source: text))")
        }
    }
    exit(0)
}

// Only expressions both compile, so both sides do the same work.
let expressions = corpus.filter { ours($0) != nil && libpcap($0) != nil }
// Warm up both sides once (name files, libpcap's lazily built tables, caches).
_ = expressions.map(ours)
_ = expressions.map(libpcap)

/// Seconds of CPU time this thread has used (user and system). The machines are shared, so
/// wall time would also count the moments other processes had the core.
func threadCPUTime() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Expressions per CPU second over passes of the whole set, at least `minimum` seconds of them.
func throughput(_ compile: (String) -> [ClassicInstruction]?, minimum: Double = 0.3) -> Double {
    var instructions = 0
    var compiled = 0
    let start = threadCPUTime()
    var seconds = 0.0
    while seconds < minimum {
        for text in expressions { instructions += compile(text)?.count ?? 0 }
        compiled += expressions.count
        seconds = threadCPUTime() - start
    }
    precondition(instructions > 0)
    return Double(compiled) / seconds
}

func cell(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

func rate(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var grouped = ""
    for (index, digit) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { grouped += "," }
        grouped.append(digit)
    }
    return grouped
}

/// The machine, for the note under the table.
func machine() -> String {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first ?? "?"
    let library = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/usr/lib/x86_64-linux-gnu/libpcap.so.0.8"))
        .map { ($0 as NSString).lastPathComponent } ?? "libpcap"
    return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(load) at the start; \(library)"
}

let machineNote = machine()

var ourRates: [Double] = []
var libpcapRates: [Double] = []
FileHandle.standardError.write(Data("round  xdpfw expr/s  libpcap expr/s  ratio\n".utf8))
for round in 1...rounds {
    // Alternate which side goes first, so neither always runs on a warmer machine.
    let (ourRate, libpcapRate) = round % 2 == 1
        ? (throughput(ours), throughput(libpcap))
        : { let l = throughput(libpcap); return (throughput(ours), l) }()
    ourRates.append(ourRate)
    libpcapRates.append(libpcapRate)
    FileHandle.standardError.write(Data((cell("\(round)", 5) + cell(rate(ourRate), 14) + cell(rate(libpcapRate), 16)
        + cell(String(format: "%.2f×", ourRate / libpcapRate), 7) + "\n").utf8))
}

// Where our time goes, over five more passes.
var stageTimes = [Double](repeating: 0, count: 4)
/// CPU seconds `work` takes.
func cpuSeconds(_ work: () -> Void) -> Double {
    let start = threadCPUTime()
    work()
    return threadCPUTime() - start
}
for _ in 1...5 {
    for text in expressions {
        var expression: FilterExpression?
        var program: FilterProgram?
        var optimized: FilterProgram?
        stageTimes[0] += cpuSeconds { expression = try? FilterParser.parse(text) }
        stageTimes[1] += cpuSeconds { program = try? FilterCodeGenerator.generate(expression!, options: CompileOptions()) }
        stageTimes[2] += cpuSeconds { optimized = try? Optimizer.optimize(program!) }
        stageTimes[3] += cpuSeconds { _ = ClassicCodeGenerator.generate(optimized!) }
    }
}
let total = stageTimes.reduce(0, +)
let shares = zip(["parse", "generate", "optimize", "layout"], stageTimes).map { name, time in
    String(format: "%@ %.0f%%", name, 100 * (time / total))
}

let ourMedian = ourRates.sorted()[rounds / 2]
let libpcapMedian = libpcapRates.sorted()[rounds / 2]
print("""
| compiler (parse → optimize → classic BPF) | expressions/s | relative |
|---|---:|---:|
| xdpfw `FilterCompiler.compile` + `ClassicCodeGenerator` | \(rate(ourMedian)) | \(String(format: "%.2f×", ourMedian / libpcapMedian)) |
| libpcap `pcap_compile` (optimize on) | \(rate(libpcapMedian)) | 1.00× |

Median of \(rounds) rounds; each round compiles the \(expressions.count) corpus expressions both accept \
(shared/corpus/filters/accept-en10mb.tsv) for at least 0.3 s of CPU time on each side (the thread's CPU time, not wall time: the machine is shared), in the same process, one thread. \
Release build (`swift build -c release --product CompileBenchmark && .build/release/CompileBenchmark \(rounds)`). \
\(machineNote). xdpfw time by stage: \(shares.joined(separator: ", ")).
""")
