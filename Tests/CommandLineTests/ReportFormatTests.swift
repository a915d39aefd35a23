import XCTest
import EBPF
import PacketFormats
import Ruleset
import Firewall

/// The shapes scripts parse and people read: stats JSON and table, JSON escaping, demo frames.
final class ReportFormatTests: XCTestCase {
    private func statistics() throws -> HookStatistics {
        let file = try RulesFile.parse("policy pass\ndrop udp port 53 # dns\npass tcp \\\n  port \"80\"\n", file: "r.conf")
        return HookStatistics(interface: "veth0", hook: "xdp", file: "/etc/r.conf", policy: file.policy,
                              policyCounter: Counter(packets: 6, bytes: 600),
                              rules: [(file.rules[0], Counter(packets: 3, bytes: 180)), (file.rules[1], Counter(packets: 1, bytes: 60))])
    }

    func testStatsJSONHasTheDesignShape() throws {
        XCTAssertEqual(try statistics().json.text, """
            {"interface": "veth0", "hook": "xdp", "policy": {"verdict": "pass", "packets": 6, "bytes": 600}, \
            "rules": [{"rule": 1, "line": 2, "verdict": "drop", "expression": "udp port 53", "packets": 3, "bytes": 180}, \
            {"rule": 2, "line": 3, "verdict": "pass", "expression": "tcp port \\"80\\"", "packets": 1, "bytes": 60}], \
            "file": "/etc/r.conf", "state": "attached"}
            """)
    }

    func testStatsTableNamesRulesAndShares() throws {
        XCTAssertEqual(try statistics().table, """
            veth0 xdp: /etc/r.conf, 2 rules, policy pass
              rule  line  verdict  packets  bytes  share  expression
                 1     2  drop           3    180  30.0%  udp port 53
                 2     3  pass           1     60  10.0%  tcp port "80"
                 -     -  pass           6    600  60.0%  (policy: no rule matched)

            """)
    }

    func testJSONEscapesControlCharacters() {
        XCTAssertEqual(JSON.string("a\"b\\c\n\t\u{1}é").text, "\"a\\\"b\\\\c\\n\\t\\u0001é\"")
        XCTAssertEqual(JSON.object([("rule", .null), ("n", .number(3.5))]).text, "{\"rule\": null, \"n\": 3.5}")
    }

    func testDemoFramesCarryValidChecksums() {
        let traffic = DemoTraffic(sourceMAC: [2, 0, 0, 0, 0, 1], destinationMAC: [2, 0, 0, 0, 0, 2],
                                  sourceIPv4: [10, 0, 0, 1], destinationIPv4: [10, 0, 0, 2])
        for burst in traffic.bursts() {
            let ip = Array(burst.frame[14..<34])
            XCTAssertEqual(InternetChecksum.of(ip), 0, "IPv4 header of \(burst.label)")
            let length = Int(ip[2]) << 8 | Int(ip[3])
            XCTAssertEqual(length, burst.frame.count - 14, burst.label)
            let payload = Array(burst.frame[34...])
            switch ip[9] {
            case 1: XCTAssertEqual(InternetChecksum.of(payload), 0, burst.label)
            case 6: XCTAssertEqual(InternetChecksum.of(Array(ip[12..<20]) + [0, 6, 0, UInt8(payload.count)] + payload), 0, burst.label)
            default: break
            }
        }
    }

    func testBuiltInExampleIsRulesExampleConf() throws {
        let file = CommandRunner.packageRoot.appendingPathComponent("rules/example.conf")
        XCTAssertEqual(ExampleRuleset.text, try String(contentsOf: file, encoding: .utf8))
    }
}
