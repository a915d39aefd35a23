import XCTest
import FilterLanguage
import FilterCompiler
import ClassicBPF
import Kernel
import DifferentialTesting

/// The unoptimized code generator against libpcap 1.10.3 (`tcpdump -O -d`), computed at test
/// time: the listing of our block graph, laid out by the classic back end, must be the same
/// text, and an expression one side rejects must be rejected by the other.
final class GeneratorLibpcapTests: XCTestCase {
    /// Raise as the generator improves; never lower.
    static let requiredIdentity = 100.0

    /// Our listing, or the error message.
    static func ours(_ text: String) -> Result<String, FilterError> {
        do {
            let expression = try FilterParser.parse(text)
            let program = try FilterCodeGenerator.generate(expression, options: CompileOptions())
            return .success(ClassicPrinter.format(ClassicCodeGenerator.generate(program), as: .assembly))
        } catch {
            return .failure(error)
        }
    }

    static func libpcap(_ text: String) -> Result<String, LibpcapError> {
        Libpcap.compile(text, optimize: false).map { Libpcap.image($0) }
    }

    struct Tally {
        var total = 0
        var identical = 0
        var agreed = 0
        var report: [String] = []

        mutating func check(_ text: String) {
            total += 1
            switch (GeneratorLibpcapTests.libpcap(text), GeneratorLibpcapTests.ours(text)) {
            case let (.success(expected), .success(actual)):
                agreed += 1
                if expected == actual { identical += 1 } else { report.append("MISMATCH \(text)\n" + Self.diff(expected, actual)) }
            case (.failure, .failure):
                agreed += 1
                identical += 1
            case let (.success, .failure(error)):
                report.append("WE REJECT (libpcap accepts) \(text): \(error.message)")
            case let (.failure(error), .success):
                report.append("WE ACCEPT (libpcap rejects) \(text): \(error.message)")
            }
        }

        var identity: Double { total == 0 ? 100 : Double(identical) * 100 / Double(total) }

        /// Line-by-line differences, `-` libpcap, `+` ours.
        static func diff(_ expected: String, _ actual: String) -> String {
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
            var lines: [String] = []
            for i in 0 ..< max(a.count, b.count) {
                let x = i < a.count ? String(a[i]) : nil, y = i < b.count ? String(b[i]) : nil
                if x == y { continue }
                if let x { lines.append("  - \(x)") }
                if let y { lines.append("  + \(y)") }
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The accepted expressions of the corpus. An expression may continue on lines that start
    /// with a tab.
    static func corpusExpressions() -> [String]? {
        guard let directory = Corpus.directory,
              let text = try? String(contentsOfFile: directory + "/filters/accept-en10mb.tsv", encoding: .utf8) else { return nil }
        var expressions: [String] = []
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("\t"), current != nil {
                current! += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            if let c = current { expressions.append(c.trimmingCharacters(in: .whitespaces)) }
            current = nil
            guard !line.isEmpty else { continue }
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            current = fields.count > 1 ? String(fields[1]) : ""
        }
        if let c = current { expressions.append(c.trimmingCharacters(in: .whitespaces)) }
        return expressions
    }

    /// Our own list, next to this file.
    static func ownExpressions() -> [String] {
        let path = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().appendingPathComponent("Expressions.txt").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    func run(_ expressions: [String], _ label: String) -> Tally {
        var tally = Tally()
        for text in expressions { tally.check(text) }
        for line in tally.report { print(line) }
        print("\(label): \(tally.identical)/\(tally.total) identical to tcpdump -O -d (\(String(format: "%.1f", tally.identity))%), accept/reject agreement \(tally.agreed)/\(tally.total)")
        return tally
    }

    func testCorpusAcceptedExpressions() throws {
        guard let expressions = Self.corpusExpressions() else { throw XCTSkip(Corpus.missingMessage) }
        XCTAssertGreaterThan(expressions.count, 300)
        let tally = run(expressions, "corpus accept-en10mb")
        XCTAssertEqual(tally.agreed, tally.total, "accept/reject must agree with libpcap")
        XCTAssertGreaterThanOrEqual(tally.identity, Self.requiredIdentity)
    }

    func testOwnExpressions() {
        let expressions = Self.ownExpressions()
        XCTAssertGreaterThan(expressions.count, 150)
        let tally = run(expressions, "Expressions.txt")
        XCTAssertEqual(tally.agreed, tally.total, "accept/reject must agree with libpcap")
        XCTAssertGreaterThanOrEqual(tally.identity, Self.requiredIdentity)
    }

    func testCorpusRejectedExpressions() throws {
        guard Corpus.directory != nil else { throw XCTSkip(Corpus.missingMessage) }
        let rejections = Corpus.rejectedExpressions
        XCTAssertGreaterThan(rejections.count, 40)
        var sameMessage = 0
        for rejection in rejections {
            switch Self.ours(rejection.text) {
            case .success:
                XCTFail("we accept \(rejection.text), libpcap says: \(rejection.error)")
            case let .failure(error):
                if error.message == rejection.error || rejection.error.hasPrefix("can't parse") { sameMessage += 1 }
                else { print("MESSAGE \(rejection.text): libpcap \"\(rejection.error)\", ours \"\(error.message)\"") }
            }
        }
        print("corpus reject-en10mb: all rejected; \(sameMessage)/\(rejections.count) with libpcap's message")
    }

    /// Keywords that parse and then fail on Ethernet give libpcap's own message, aliases and
    /// libpcap's spelling slips included.
    func testOtherLinkTypeKeywordsGiveLibpcapsMessage() {
        let expressions = ["direction 1", "dir 1", "subrulenum 1", "srnr 1", "rnr 1", "rulenum 1", "lsu", "lssu",
                           "fisu", "msu", "hfisu", "hlssu", "hmsu", "oamf4ec", "oamf4sc", "oamf4", "oam", "lane",
                           "metac", "bcc", "sc", "ilmic", "connectmsg", "metaconnect", "vpi 1", "vci 1",
                           "sio 1", "hsio 1", "opc 1", "dpc 1", "sls 1", "reason 1", "type 1", "ifname eth0",
                           "on eth0", "rset x", "ruleset x", "action pass"]
        for text in expressions {
            guard case let .failure(reference) = Libpcap.compile(text, optimize: true) else {
                XCTFail("libpcap accepts \(text)"); continue
            }
            guard case let .failure(error) = Self.ours(text) else { XCTFail("we accept \(text)"); continue }
            if reference.message.hasPrefix("can't parse") { continue }  // a syntax error: wording differs on purpose
            XCTAssertEqual(error.message, reference.message, text)
        }
    }

    /// `-s`: the accept verdict returns the snap length.
    func testSnapLength() throws {
        var options = CompileOptions()
        options.snapLength = 65535
        let ours = try FilterCodeGenerator.generate(FilterParser.parse("tcp port 80"), options: options)
        let expected = try Libpcap.compile("tcp port 80", optimize: false, snapLength: 65535).get()
        XCTAssertEqual(ClassicCodeGenerator.generate(ours), expected)
    }

    /// tcpdump -d without an interface compiles with netmask 0, so `ip broadcast` works there.
    func testIPBroadcastWithAKnownNetmask() throws {
        let listing: String
        do { listing = try TcpdumpListing.run(["-O", "-d", "ip broadcast"]) } catch { throw XCTSkip("tcpdump not runnable: \(error)") }
        var options = CompileOptions()
        options.netmask = 0
        let ours = try FilterCodeGenerator.generate(FilterParser.parse("ip broadcast"), options: options)
        XCTAssertEqual(ClassicPrinter.format(ClassicCodeGenerator.generate(ours), as: .assembly), listing)
    }

    /// Errors point at the primitive that caused them.
    func testErrorRangeIsThePrimitive() throws {
        let text = "tcp and vlan 4096"
        guard case let .failure(error) = Self.ours(text) else { return XCTFail("accepted \(text)") }
        XCTAssertEqual(error.message, "VLAN tag 4096 greater than maximum 4095")
        let start = text.utf8.index(text.utf8.startIndex, offsetBy: error.range.start)
        XCTAssertTrue(text[start...].hasPrefix("vlan"), "range starts at \(error.range.start)")
    }

    /// The name service is injectable: hosts come from it, not from the system.
    func testInjectedNameService() throws {
        struct Names: NameService {
            func port(_ name: String, protocol: String) -> UInt32? { name == "web" ? 80 : nil }
            func ipProtocol(_ name: String) -> UInt32? { nil }
            func network(_ name: String) -> UInt32? { nil }
            func hostAddresses(_ name: String) -> [HostAddress] { name == "gw" ? [.ipv4(0x0a00_0001)] : [] }
            func etherHost(_ name: String) -> [UInt8]? { nil }
        }
        var options = CompileOptions()
        options.names = Names()
        let named = try FilterCodeGenerator.generate(FilterParser.parse("host gw and port web"), options: options)
        let literal = try FilterCodeGenerator.generate(FilterParser.parse("host 10.0.0.1 and port 80"), options: CompileOptions())
        XCTAssertEqual(ClassicCodeGenerator.generate(named), ClassicCodeGenerator.generate(literal))
    }
}
