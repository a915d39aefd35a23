import XCTest
@testable import FilterLanguage

/// Error excerpts: escaped, at most 120 columns (plus the two `…`), the caret under the place.
final class TerminalTextTests: XCTestCase {
    func testExcerptsAreEscapedNarrowAndPointAtThePlace() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let alphabet: [[UInt8]] = [[0x61], [0x20], [0x09], [0x1b], [0x07], [0x7f], [0xc3, 0xa9], [0xff], [0xc2, 0x9b], [0x28]]
        for round in 0..<2000 {
            let bytes = (0..<next(400)).flatMap { _ in alphabet[next(alphabet.count)] }
            let line = TerminalText.decoding(bytes)
            let characters = Array(line)
            let start = next(characters.count + 1), width = 1 + next(300)
            let excerpt = TerminalText.excerpt(line, start: start, width: width)
            XCTAssertFalse(excerpt.line.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t") || (0x7F...0x9F).contains($0.value) },
                           "\(round): \(excerpt.line.debugDescription)")
            XCTAssertLessThanOrEqual(excerpt.line.count, TerminalText.excerptWidth + 2, "\(round)")
            let column = excerpt.caret.distance(from: excerpt.caret.startIndex, to: excerpt.caret.firstIndex(of: "^")!)
            let under = start < characters.count ? TerminalText.escaped(String(characters[start])) : ""
            XCTAssertTrue(excerpt.line.dropFirst(column).hasPrefix(under), "\(round): \(excerpt.line.debugDescription) at \(column): \(under)")
        }
    }

    func testValidTextDecodesAsStringDoesAndOtherBytesAreKept() {
        let text = "drop host café \t# ✓"
        XCTAssertEqual(TerminalText.decoding(Array(text.utf8)), text)
        XCTAssertEqual(TerminalText.escaped(TerminalText.decoding([0x61, 0xff, 0x1b, 0xe9, 0x62])), #"a\xff\x1b\xe9b"#)
        XCTAssertEqual(TerminalText.escaped("a\u{9b}b\u{202e}c"), #"a\u009bb\u202ec"#)
        XCTAssertEqual(TerminalText.escaped(#"ether proto \ip"#), #"ether proto \ip"#, "backslashes stay")
    }
}
