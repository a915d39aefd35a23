import Foundation
import XCTest
@testable import FilterLanguage

/// The installed libpcap, asked through `tcpdump -d` (the oracle for what parses), and the
/// shared corpus of expressions.
enum Oracle {
    static let tcpdumpPath: String? = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/bin/tcpdump", "/sbin/tcpdump"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    enum Verdict: Equatable {
        case accepted
        /// libpcap's message contains "syntax error".
        case syntaxError(String)
        /// Any other error (semantic: unknown names, unsupported on Ethernet...).
        case otherError(String)
    }

    /// What libpcap says about `expression` on Ethernet.
    static func libpcap(_ expression: String) throws -> Verdict {
        let (status, _, errors) = try tcpdump(["-d", "--", expression])
        if status == 0 { return .accepted }
        let message = errors
            .split(separator: "\n")
            .first { !$0.contains("assuming Ethernet") }
            .map { $0.hasPrefix("tcpdump: ") ? String($0.dropFirst(9)) : String($0) } ?? ""
        return message.contains("syntax error") ? .syntaxError(message) : .otherError(message)
    }

    /// `tcpdump -O -d` output, or nil when libpcap rejects the expression.
    static func unoptimized(_ expression: String) throws -> String? {
        let (status, output, _) = try tcpdump(["-O", "-d", "--", expression])
        return status == 0 ? output : nil
    }

    static func tcpdump(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        guard let path = tcpdumpPath else { throw XCTSkip("tcpdump is not installed: no libpcap oracle") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let errors = Pipe(), output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        // Small outputs: reading one pipe to the end before the other cannot fill a pipe buffer.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    static var corpusDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/corpus/filters").standardized
    }

    /// Rows of a corpus table (comment line skipped), split on tabs.
    static func corpus(_ name: String) throws -> [[String]] {
        let url = corpusDirectory.appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw XCTSkip("corpus \(url.path) is absent (it lives outside the repository)")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }
}

/// What our parser says, in the oracle's terms.
func ourVerdict(_ expression: String) -> Result<FilterExpression, FilterError> {
    do { return .success(try FilterParser.parse(expression)) } catch { return .failure(error) }
}
