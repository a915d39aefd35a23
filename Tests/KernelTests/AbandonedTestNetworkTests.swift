import XCTest
import Foundation
@testable import Kernel

/// A test process that dies leaves its namespaces and the pins `xdpfw -n NAME apply` made for them;
/// the next TestNetwork removes both, and nothing that belongs to a live process or to anyone else.
final class AbandonedTestNetworkTests: XCTestCase {
    func testRemovesDeadProcessesNamespacesAndTheirPinsOnly() throws {
        try skipUnlessRoot()
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let dead = ended.processIdentifier
        let deadWithNamespace = "xdpfw-\(dead)-1-a"        // namespace left behind, pins in it
        let deadWithoutNamespace = "xdpfw-\(dead)-2-b"     // namespace already gone, pins left
        let alive = "xdpfw-\(getpid())-900001-a"            // this process: not abandoned
        let liveOther = "xdpfw-1-900002-b"                  // pid 1 lives
        let notOurs = "xdpfw-\(dead)-3-c"                   // not a name TestNetwork gives
        let kept = [alive, liveOther, notOurs]
        let all = [deadWithNamespace, deadWithoutNamespace] + kept
        defer {
            for name in all {
                removeTree(PinDirectory.root(forNamespace: name))
                if NetworkNamespace.exists(name: name) { _ = try? IPCommand.run(["netns", "del", name]) }
            }
        }
        try IPCommand.run(["netns", "add", deadWithNamespace])
        for name in all {
            let directory = PinDirectory(interface: "xfw-a", hook: .xdp, root: PinDirectory.root(forNamespace: name))
            try directory.create()
            try PinnedText.write("drop udp\n", at: directory.path(of: PinDirectory.Entry.ruleset))
        }

        TestNetwork.removeAbandoned()

        XCTAssertFalse(NetworkNamespace.exists(name: deadWithNamespace), "the dead process's namespace is deleted")
        for name in [deadWithNamespace, deadWithoutNamespace] {
            XCTAssertFalse(BPFFileSystem.exists(PinDirectory.root(forNamespace: name)), "\(name): its pins are removed")
        }
        for name in kept {
            let pin = PinDirectory(interface: "xfw-a", hook: .xdp, root: PinDirectory.root(forNamespace: name))
            XCTAssertEqual(try PinnedText.read(at: pin.path(of: PinDirectory.Entry.ruleset)), "drop udp\n", "\(name) is left alone")
        }
    }
}
