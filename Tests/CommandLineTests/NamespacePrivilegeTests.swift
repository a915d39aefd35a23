import Foundation
import XCTest

/// `-n NAME` enters a network namespace, which needs CAP_SYS_ADMIN: without it, the hint must
/// name that capability (CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON are not enough).
final class NamespacePrivilegeTests: XCTestCase {
    func testEnteringANamespaceWithoutCapSysAdminSaysItIsNeeded() throws {
        guard CommandRunner.isRoot else { throw XCTSkip("needs root: creates a network namespace and drops a capability") }
        let setpriv = URL(fileURLWithPath: "/usr/bin/setpriv")
        guard FileManager.default.isExecutableFile(atPath: setpriv.path) else { throw XCTSkip("needs util-linux's setpriv to drop CAP_SYS_ADMIN") }
        let namespace = "xdpfw-caps-\(getpid())"
        let ip = URL(fileURLWithPath: "/usr/sbin/ip")
        XCTAssertEqual(try CommandRunner.run(ip, ["netns", "add", namespace]).status, 0)
        defer { _ = try? CommandRunner.run(ip, ["netns", "del", namespace]) }

        let allowed = try CommandRunner.run(["-n", namespace, "status"])
        XCTAssertEqual(allowed.status, 0, allowed.standardError)
        let refused = try CommandRunner.run(setpriv, ["--bounding-set", "-sys_admin", CommandRunner.executable.path, "-n", namespace, "status"])
        XCTAssertEqual(refused.status, 1, refused.standardOutput)
        XCTAssertTrue(refused.standardError.hasPrefix("xdpfw: entering network namespace"), refused.standardError)
        XCTAssertTrue(refused.standardError.contains("CAP_SYS_ADMIN"), refused.standardError)
    }
}
