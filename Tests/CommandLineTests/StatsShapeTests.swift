import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `stats --json` has one shape per question, whatever is attached: an object for an interface,
/// an array without one. An interface with rules at several hooks needs `--hook` for JSON.
final class StatsShapeTests: XCTestCase {
    func testJSONIsOneObjectPerInterfaceWhateverIsAttached() throws {
        guard CommandRunner.isRoot else { throw XCTSkip("needs root: loads BPF programs and creates network namespaces") }
        let network = try TestNetwork()
        defer { network.close() }
        let namespace = network.b.namespace, interface = network.b.interfaceName
        defer { try? FileManager.default.removeItem(atPath: PinDirectory.root(forNamespace: namespace)) }
        defer { _ = try? CommandRunner.run(["-n", namespace, "detach", interface]) }

        func stats(_ arguments: [String]) throws -> CommandResult {
            try CommandRunner.run(["-n", namespace, "stats"] + arguments)
        }
        func object(_ result: CommandResult) throws -> [String: Any] {
            XCTAssertEqual(result.status, 0, result.standardError)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                                 result.standardOutput)
        }
        let xdp = try CommandRunner.run(["-n", namespace, "apply", "rules/example.conf", interface])
        XCTAssertEqual(xdp.status, 0, xdp.standardError)
        // One hook: an object, with or without --hook.
        XCTAssertEqual(try object(stats([interface, "--json"]))["hook"] as? String, "xdp")
        XCTAssertEqual(try object(stats([interface, "--json", "--hook", "xdp"]))["hook"] as? String, "xdp")

        let tc = try CommandRunner.run(["-n", namespace, "apply", "rules/example.conf", interface, "--hook", "tc-ingress"])
        XCTAssertEqual(tc.status, 0, tc.standardError)
        // Two hooks: JSON for the interface needs --hook, and says so.
        let ambiguous = try stats([interface, "--json"])
        XCTAssertEqual(ambiguous.status, 2, "a usage error, like other wrong command lines")
        XCTAssertEqual(ambiguous.standardOutput, "")
        XCTAssertEqual(ambiguous.standardError,
                       "xdpfw: \(interface) has xdpfw rules at xdp and tc-ingress: with --json, pick one with --hook xdp|tc-ingress\n")
        for hook in ["xdp", "tc-ingress"] {
            let picked = try object(stats([interface, "--json", "--hook", hook]))
            XCTAssertEqual(picked["hook"] as? String, hook)
            XCTAssertEqual(picked["interface"] as? String, interface)
        }
        // No interface: an array of every installation; text shows every hook.
        let all = try stats(["--json"])
        XCTAssertEqual(all.status, 0, all.standardError)
        let array = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(all.standardOutput.utf8)) as? [[String: Any]])
        XCTAssertEqual(Set(array.compactMap { $0["hook"] as? String }), ["xdp", "tc-ingress"])
        let text = try stats([interface])
        XCTAssertEqual(text.status, 0, text.standardError)
        XCTAssertTrue(text.standardOutput.contains("\(interface) xdp:") && text.standardOutput.contains("\(interface) tc-ingress:"),
                      text.standardOutput)
        // A hook with nothing there is the verb's failure, as before.
        XCTAssertEqual(try stats([interface, "--json", "--hook", "tc-egress"]).status, 1)
    }
}
