import Foundation
import Kernel
import XCTest

/// `demo --prefix/--subnet` (issue 9, item 11): the demo says which names and addresses it uses,
/// takes others, and never uses or removes a namespace that was there before it.
final class DemoOptionsTests: XCTestCase {
    func testHelpNamesTheNamespacesAndAddresses() throws {
        let help = try CommandRunner.run(["demo", "--help"])
        XCTAssertEqual(help.status, 0)
        for text in ["xdpfw-PID-N-a", "10.199.N.1/24", "--prefix <prefix>", "--subnet <a.b.c.0/24>"] {
            XCTAssertTrue(help.standardOutput.contains(text), "\(text): \(help.standardOutput)")
        }
    }

    func testBadPrefixOrSubnetIsAUsageError() throws {
        for (arguments, message) in [(["demo", "--subnet", "10.1.2.0/16"], "xdpfw: --subnet takes a /24"),
                                     (["demo", "--subnet", "10.1.2.300"], "xdpfw: --subnet takes a /24"),
                                     (["demo", "--prefix", "a/b"], "xdpfw: --prefix is"),
                                     (["demo", "--prefix", ".."], "xdpfw: --prefix is")] {
            let result = try CommandRunner.run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments)")
            XCTAssertTrue(result.standardError.hasPrefix(message), "\(arguments): \(result.standardError)")
        }
    }

    func testTheDemoUsesTheNamesAndSubnetGivenAndLeavesOthersAlone() throws {
        guard CommandRunner.isRoot else { throw XCTSkip("needs root: the demo creates network namespaces") }
        let prefix = "xdpfw-demo-\(getpid())"
        defer {
            for side in ["a", "b"] where NetworkNamespace.exists(name: "\(prefix)-\(side)") {
                _ = try? CommandRunner.run(URL(fileURLWithPath: "/sbin/ip"), ["netns", "del", "\(prefix)-\(side)"])
            }
        }
        let demo = try CommandRunner.run(["demo", "--prefix", prefix, "--subnet", "10.231.7.0/24"], timeout: 120)
        XCTAssertEqual(demo.status, 0, demo.standardError)
        XCTAssertTrue(demo.standardOutput.contains("Created namespaces \(prefix)-a (xfw-a, 10.231.7.1) and \(prefix)-b (xfw-b, 10.231.7.2)"),
                      demo.standardOutput)
        XCTAssertFalse(NetworkNamespace.exists(name: "\(prefix)-a") || NetworkNamespace.exists(name: "\(prefix)-b"), "removed after")

        // A namespace of that name exists: the demo stops, and leaves it (and makes no other).
        _ = try CommandRunner.run(URL(fileURLWithPath: "/sbin/ip"), ["netns", "add", "\(prefix)-b"])
        let refused = try CommandRunner.run(["demo", "--prefix", prefix], timeout: 120)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("network namespace '\(prefix)-b' exists already"), refused.standardError)
        XCTAssertTrue(NetworkNamespace.exists(name: "\(prefix)-b"), "the namespace that was there is left")
        XCTAssertFalse(NetworkNamespace.exists(name: "\(prefix)-a"), "the one the demo made is removed")
    }
}
