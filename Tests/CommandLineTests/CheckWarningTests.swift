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
}
