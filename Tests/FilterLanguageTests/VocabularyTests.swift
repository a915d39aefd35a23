import XCTest
@testable import FilterLanguage

/// The reserved words and named constants, checked one by one against the installed libpcap.
final class VocabularyTests: XCTestCase {
    /// `llc` takes a name, so `llc WORD` is a syntax error exactly when WORD is reserved (`rnr` and
    /// its long form are the exception: `llc rnr` is an LLC subtype). Same for us.
    func testReservedWordsAreLibpcaps() throws {
        var mismatches: [String] = []
        for word in Vocabulary.keywords.keys.sorted() + ["vxlan", "lldp", "hostname", "ipv4", "ipv6", "icmp4", "arcnet"] {
            let expression = "llc \(word)"
            let libpcapSays = try Oracle.libpcap(expression)
            let libpcapReserves: Bool
            if case .syntaxError = libpcapSays { libpcapReserves = true } else { libpcapReserves = false }
            let weReserve = Vocabulary.keywords[word] != nil && !["rnr", "rulenum"].contains(word)
            if libpcapReserves != weReserve { mismatches.append("\(word): libpcap \(libpcapSays)") }
        }
        XCTAssert(mismatches.isEmpty, mismatches.joined(separator: "\n"))
    }

    /// Optimised, `link[NAME] = 0` loads the byte at the constant's value: `ldb [VALUE]`.
    func testNamedConstantsHaveLibpcapsValues() throws {
        var mismatches: [String] = []
        for (name, value) in Vocabulary.namedConstants.sorted(by: { $0.key < $1.key }) {
            let (status, listing, _) = try Oracle.tcpdump(["-d", "--", "link[\(name)] = 0"])
            guard status == 0 else {
                mismatches.append("\(name): libpcap does not know it")
                continue
            }
            let firstLine = listing.split(separator: "\n").first.map(String.init) ?? ""
            if !firstLine.hasSuffix("[\(value)]") { mismatches.append("\(name) = \(value), libpcap: \(firstLine)") }
        }
        XCTAssert(mismatches.isEmpty, mismatches.joined(separator: "\n"))
    }
}
