import EBPF
import Foundation
import XCTest
import Kernel
import Firewall

/// `status` and `stats` tell what the kernel runs, not what the pins say: rules on an interface
/// that was deleted (or deleted and re-created) are not in force, and pins of a deleted network
/// namespace are listed and can be removed.
final class InterfaceGoneTests: XCTestCase {
    private let hooks: [Hook] = [.xdp, .tcIngress]
    private let rules = "policy pass\ndrop udp port 53\n"

    func testStatusAndStatsSayTheRulesAreNotInForceOnceTheInterfaceIsDeletedOrRecreated() throws {
        let quiet = try networkWithRules()
        defer { quiet.close() }
        let b = quiet.network.b
        // Applied: the states agree with the kernel's own tools.
        for hook in hooks { XCTAssertTrue(try kernelRunsAProgram(at: hook, of: b)) }
        XCTAssertEqual(try textStates(b), hooks.map { [$0.rawValue, "attached"] })
        XCTAssertEqual(try notInForceCount(b), 0)

        // Deleted: the kernel has nothing there any more.
        try IPCommand.run(["-n", b.namespace, "link", "del", b.interfaceName])
        XCTAssertEqual(try textStates(b), hooks.map { [$0.rawValue, "INTERFACE"] }, "status says INTERFACE GONE")
        XCTAssertEqual(try notInForceCount(b), hooks.count, "stats says the counters are not in force")

        // Re-created under the same name: still nothing of ours runs there.
        try IPCommand.run(["-n", b.namespace, "link", "add", b.interfaceName, "type", "veth", "peer", "name", "xdpfw-peer"])
        for hook in hooks { XCTAssertFalse(try kernelRunsAProgram(at: hook, of: b), "\(hook) on the new \(b.interfaceName)") }
        XCTAssertEqual(try textStates(b), hooks.map { [$0.rawValue, "INTERFACE"] }, "status says INTERFACE GONE")
        XCTAssertEqual(try notInForceCount(b), hooks.count, "stats says the counters are not in force")
        let text = try Xdpfw.run(["-n", b.namespace, "status"]).standardOutput
        XCTAssertTrue(text.contains("re-created"), text)
    }

    func testStatusAndStatsJSONFollowTheKernel() throws {
        let quiet = try networkWithRules()
        defer { quiet.close() }
        let b = quiet.network.b
        for hook in hooks {
            let object = try status(b.namespace, hook)
            XCTAssertEqual(Set(object.keys), ["interface", "hook", "mode", "xdp_buffers", "program_id", "programs", "rules", "policy", "file", "state"])
            XCTAssertEqual(object["state"] as? String, "attached")
            XCTAssertEqual(object["program_id"] as? Int, try quiet.attachedProgramID(on: .b, hook: hook).map(Int.init))
            XCTAssertEqual(object["mode"] as? String, hook == .xdp ? "native" : nil)
            XCTAssertEqual(object["rules"] as? Int, 1)
            XCTAssertEqual(try stats(b, hook)["state"] as? String, "attached")
        }
        // Someone removes the clsact qdisc: the TC filter is gone, the interface is not.
        try IPCommand.run(["netns", "exec", b.namespace, "tc", "qdisc", "del", "dev", b.interfaceName, "clsact"])
        XCTAssertFalse(try kernelRunsAProgram(at: .tcIngress, of: b))
        XCTAssertEqual(try status(b.namespace, .tcIngress)["state"] as? String, "not attached")
        XCTAssertEqual(try stats(b, .tcIngress)["state"] as? String, "not attached")
        XCTAssertEqual(try status(b.namespace, .xdp)["state"] as? String, "attached")

        try IPCommand.run(["-n", b.namespace, "link", "del", b.interfaceName])
        try IPCommand.run(["-n", b.namespace, "link", "add", b.interfaceName, "type", "veth", "peer", "name", "xdpfw-peer"])
        for hook in hooks {
            let object = try status(b.namespace, hook)
            XCTAssertEqual(object["state"] as? String, "interface gone", "status at \(hook)")
            XCTAssertTrue(object["program_id"] is NSNull, "status at \(hook)")
            XCTAssertEqual(try stats(b, hook)["state"] as? String, "interface gone", "stats at \(hook)")
        }
        let detached = try Xdpfw.run(["-n", b.namespace, "detach", b.interfaceName])
        XCTAssertEqual(detached.status, 0, detached.standardError)
        XCTAssertEqual(try Xdpfw.run(["-n", b.namespace, "status", "--json"]).standardOutput, "[]\n")
    }

    func testStatusListsThePinsOfADeletedNamespace() throws {
        let quiet = try networkWithRules()
        defer { quiet.close() }
        let b = quiet.network.b
        try IPCommand.run(["netns", "del", b.namespace])

        // Listed without -n (among whatever else is on this machine) and with it.
        let text = try Xdpfw.run(["status"]).standardOutput
        XCTAssertEqual(text.components(separatedBy: "\(b.interfaceName) (netns \(b.namespace))").count - 1, 2 * hooks.count,
                       "a row and a note per hook: \(text)")
        let all = try statusObjects([]).filter { $0["netns"] as? String == b.namespace }
        XCTAssertEqual(all.map { $0["hook"] as? String }, hooks.map(\.rawValue))
        XCTAssertEqual(Set(all.map { $0["state"] as? String }), ["interface gone"])
        XCTAssertEqual(try statusObjects(["-n", b.namespace]).count, hooks.count)
        // stats -n of the deleted namespace shows what the counters held, not in force.
        XCTAssertEqual(try notInForceCount(b), hooks.count)
    }

    func testDetachRemovesThePinsOfADeletedNamespace() throws {
        let quiet = try networkWithRules()
        defer { quiet.close() }
        let b = quiet.network.b
        try IPCommand.run(["netns", "del", b.namespace])
        let pins = PinDirectory.root(forNamespace: b.namespace)
        XCTAssertTrue(BPFFileSystem.exists(pins))

        let detached = try Xdpfw.run(["-n", b.namespace, "detach", b.interfaceName, "--hook", "xdp"])
        XCTAssertEqual(detached.status, 0, detached.standardError)
        XCTAssertTrue(detached.standardOutput.contains("no longer exists"), detached.standardOutput)
        XCTAssertFalse(BPFFileSystem.exists(pins + "/" + b.interfaceName + "/xdp"), "the xdp pins are gone")
        XCTAssertTrue(BPFFileSystem.exists(pins + "/" + b.interfaceName + "/tc-ingress"), "--hook xdp leaves tc-ingress")
        XCTAssertEqual(try Xdpfw.run(["-n", b.namespace, "detach", b.interfaceName]).status, 0)
        XCTAssertFalse(BPFFileSystem.exists(pins), "no pins left for \(b.namespace)")
        // Nothing left: the namespace is simply not found again.
        let again = try Xdpfw.run(["-n", b.namespace, "detach", b.interfaceName])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.standardError.contains("not found"), again.standardError)
    }

    /// A quiet network with `rules` applied at each of `hooks` of b's veth.
    private func networkWithRules() throws -> QuietNetwork {
        try EndToEnd.requireRoot()
        let quiet = try QuietNetwork()
        do {
            for hook in hooks { try quiet.apply(rules, on: .b, hook: hook.rawValue) }
        } catch {
            quiet.close()
            throw error
        }
        return quiet
    }

    /// [hook, first word of the state] of each row of the `status` table.
    private func textStates(_ end: TestNetwork.End) throws -> [[String]] {
        let result = try Xdpfw.run(["-n", end.namespace, "status"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return result.standardOutput.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .filter { $0.count > 2 && $0[0] == end.interfaceName && !$0[1].hasSuffix(":") }  // rows, not notes
            .map { [$0[1], $0[2]] }
    }

    /// How many hooks `stats` (text) says are not in force.
    private func notInForceCount(_ end: TestNetwork.End) throws -> Int {
        let result = try Xdpfw.run(["-n", end.namespace, "stats"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return result.standardOutput.components(separatedBy: "NOT IN FORCE").count - 1
    }

    private func stats(_ end: TestNetwork.End, _ hook: Hook) throws -> [String: Any] {
        let result = try Xdpfw.run(["-n", end.namespace, "stats", end.interfaceName, "--hook", hook.rawValue, "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any], result.standardOutput)
    }

    private func statusObjects(_ global: [String]) throws -> [[String: Any]] {
        let result = try Xdpfw.run(global + ["status", "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]], result.standardOutput)
    }

    private func status(_ namespace: String, _ hook: Hook) throws -> [String: Any] {
        try XCTUnwrap(try statusObjects(["-n", namespace]).first { $0["hook"] as? String == hook.rawValue }, "\(hook) listed")
    }

    /// The kernel's own tools: `ip link` shows an XDP program, `tc filter` a TC one.
    private func kernelRunsAProgram(at hook: Hook, of end: TestNetwork.End) throws -> Bool {
        switch hook {
        case .xdp:
            return try IPCommand.run(["-n", end.namespace, "link", "show", "dev", end.interfaceName]).contains("prog/xdp")
        case .tcIngress, .tcEgress:
            let direction = hook == .tcIngress ? "ingress" : "egress"
            let filters = (try? IPCommand.run(["netns", "exec", end.namespace, "tc", "filter", "show", "dev", end.interfaceName, direction])) ?? ""
            return filters.contains("bpf")
        }
    }
}
