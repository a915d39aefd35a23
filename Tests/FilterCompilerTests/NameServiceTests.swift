import XCTest
import Foundation
@testable import FilterCompiler

/// The file-based name service, on files and text the tests write.
final class NameServiceTests: XCTestCase {
    func withFiles(_ files: [String: String], _ body: (SystemFiles) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "xdpfw-names-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (name, text) in files { try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8) }
        try body(SystemFiles(root: root))
    }

    func testLookups() throws {
        try withFiles([
            "services": "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb\ndomain 53/tcp\ndomain 53/udp\nsyslog 514/udp\n",
            "protocols": "tcp\t6\tTCP\nipv6-icmp 58 IPv6-ICMP\n",
            "networks": "loopback 127.0.0.0\nten 10\n",
            "hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.1.2.3 Gateway.example gw # office\n",
            "ethers": "0:1:2:3:4:5 gw\n",
        ]) { names in
            XCTAssertEqual(names.port("www", protocol: "tcp"), 80)
            XCTAssertNil(names.port("www", protocol: "udp"))
            XCTAssertEqual(names.port("syslog", protocol: "udp"), 514)
            XCTAssertEqual(names.ipProtocol("TCP"), 6)
            XCTAssertEqual(names.ipProtocol("ipv6-icmp"), 58)
            XCTAssertNil(names.ipProtocol("tcp6"))
            XCTAssertEqual(names.network("loopback"), 0x7f00_0000)
            XCTAssertEqual(names.network("ten"), 10)
            XCTAssertEqual(names.hostAddresses("localhost"), [.ipv4(0x7f00_0001), .ipv6([UInt8](repeating: 0, count: 15) + [1])])
            XCTAssertEqual(names.hostAddresses("gateway.example"), [.ipv4(0x0a01_0203)])
            XCTAssertEqual(names.hostAddresses("10.9.8.7"), [.ipv4(0x0a09_0807)])
            XCTAssertEqual(names.hostAddresses("office"), [])
            XCTAssertEqual(names.etherHost("gw"), [0, 1, 2, 3, 4, 5])
        }
    }

    func testMissingFilesFindNothing() throws {
        try withFiles([:]) { names in
            XCTAssertNil(names.port("http", protocol: "tcp"))
            XCTAssertNil(names.ipProtocol("tcp"))
            XCTAssertEqual(names.hostAddresses("localhost"), [])
            XCTAssertNil(names.etherHost("gw"))
        }
    }
}
