import Foundation
import XCTest

/// `check` warns about rules that never match (issue 13): on standard error, `file:line:
/// warning: ...`, exit status 0; `--strict` makes the same file exit 1.
final class CheckWarningTests: XCTestCase {
    static let shadowed = """
        policy pass
        drop src net 10.0.0.0/8
        pass src host 10.1.2.3 and tcp dst port 22
        drop udp port 53
        drop udp port 53
        """

    func testWarningsGoToStandardErrorAndStrictMakesThemFail() throws {
        try XCTSkipIf(geteuid() != 0, "check loads the program through the kernel's verifier: needs root")
        let plain = try CommandRunner.run(["check", "-"], input: Self.shadowed)
        XCTAssertEqual(plain.status, 0, plain.standardError)
        XCTAssertEqual(plain.standardError, """
            <stdin>:3: warning: rule 2 never matches: rule 1 (line 2) matches every packet it does, and drops them: rule 2 would pass them
            <stdin>:5: warning: rule 4 never matches: it duplicates rule 3 (line 4)

            """)
        XCTAssertTrue(plain.standardOutput.hasPrefix("<stdin>: 4 rules, policy pass: OK"), plain.standardOutput)

        let strict = try CommandRunner.run(["check", "--strict", "-"], input: Self.shadowed)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.standardError.hasSuffix("xdpfw: <stdin>: 2 warnings, and --strict makes warnings errors\n"), strict.standardError)

        let clean = try CommandRunner.run(["check", "--strict", "-"], input: "drop udp port 53\npass tcp\n")
        XCTAssertEqual(clean.status, 0, clean.standardError)
        XCTAssertEqual(clean.standardError, "")
    }

    /// `count` rules of which every one after the first duplicates it: `count - 1` warnings.
    static func duplicates(_ count: Int) -> String {
        "policy pass\n" + String(repeating: "drop udp port 53\n", count: count)
    }

    /// The warning for rule `number` of `duplicates(_:)`.
    static func duplicateWarning(_ number: Int) -> String {
        "<stdin>:\(number + 1): warning: rule \(number) never matches: it duplicates rule 1 (line 2)"
    }

    /// Thousands of warnings would bury the summary: `check` prints the first 20 in rule order,
    /// then how many more there are; `--all-warnings` prints them all. The exit status is unchanged.
    func testWarningsAreCappedUnlessAllWarnings() throws {
        try XCTSkipIf(geteuid() != 0, "check loads the program through the kernel's verifier: needs root")
        let capped = try CommandRunner.run(["check", "-"], input: Self.duplicates(31))
        XCTAssertEqual(capped.status, 0, capped.standardError)
        XCTAssertEqual(capped.standardError,
                       (2...21).map { Self.duplicateWarning($0) + "\n" }.joined()
                       + "<stdin>: 10 more warnings not shown (30 in all; --all-warnings prints them all)\n")
        XCTAssertTrue(capped.standardOutput.hasPrefix("<stdin>: 31 rules, policy pass: OK"), capped.standardOutput)

        let all = try CommandRunner.run(["check", "--all-warnings", "-"], input: Self.duplicates(31))
        XCTAssertEqual(all.status, 0, all.standardError)
        XCTAssertEqual(all.standardError, (2...31).map { Self.duplicateWarning($0) + "\n" }.joined())

        // One more than the cap: "1 more warning"; exactly the cap: no such line.
        let oneMore = try CommandRunner.run(["check", "-"], input: Self.duplicates(22))
        XCTAssertTrue(oneMore.standardError.hasSuffix(Self.duplicateWarning(21) + "\n"
                      + "<stdin>: 1 more warning not shown (21 in all; --all-warnings prints them all)\n"), oneMore.standardError)
        let exactly = try CommandRunner.run(["check", "-"], input: Self.duplicates(21))
        XCTAssertEqual(exactly.standardError, (2...21).map { Self.duplicateWarning($0) + "\n" }.joined())

        // --strict still counts every warning, shown or not.
        let strict = try CommandRunner.run(["check", "--strict", "-"], input: Self.duplicates(31))
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.standardError.hasSuffix("xdpfw: <stdin>: 30 warnings, and --strict makes warnings errors\n"), strict.standardError)
    }
}
