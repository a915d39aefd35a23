import Foundation
import XCTest
import DifferentialTesting
import Kernel

/// `scripts/bench-live --quick`: every row of the live benchmark (the do-nothing ceiling, xdpfw,
/// xdp-filter, nftables) runs, and for each, the frames the receiver processed plus the drops the
/// veths report equal the frames the sender sent: the rig loses nothing silently. How fast is
/// not judged here (docs/live.md holds a full run).
final class LiveBenchTests: XCTestCase {
    func testQuickRunAccountsForEveryFrameInEveryRow() throws {
        try EndToEnd.requireRoot()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/bench-live")
        var environment = ProcessInfo.processInfo.environment
        environment["XDPFW_BUILD_DIR"] = ProcessRun.builtXdpfw.deletingLastPathComponent().path
        let process = Process()
        process.executableURL = script
        process.arguments = ["--quick"]
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, problems + text)

        let rows = text.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(rows.count, 16, text)
        XCTAssertEqual(Set(rows.compactMap { $0["engine"] as? String }), ["ceiling", "xdpfw", "xdp-filter", "nftables"])
        for row in rows {
            let sent = row["sent"] as? Int ?? -1, processed = row["processed"] as? Int ?? -1, lost = row["lost_in_veth"] as? Int ?? -1
            XCTAssertGreaterThan(sent, 0, "\(row)")
            XCTAssertEqual(processed + lost, sent, "frames unaccounted for: \(row)")
            XCTAssertEqual(row["unaccounted"] as? Int, 0, "\(row)")
        }
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory)) ?? []
        XCTAssertFalse(namespaces.contains { $0.hasPrefix("xdpfw-live-") }, "the rig's namespaces are gone: \(namespaces)")
    }
}
