import DifferentialTesting
import EBPF
import Foundation
import Kernel
import XCTest
import Firewall

/// This kernel's skb test run refuses IPv4/IPv6 frames shorter than their network header, even to
/// a program that only returns. `test --hook tc` reports such a frame as not run and carries on;
/// `bench --packets` skips it.
final class RefusedFrameTests: XCTestCase {
    func testTCTestAndBenchCarryOnPastFramesTheKernelRefuses() throws {
        guard CommandRunner.isRoot else { throw XCTSkip("needs root: loads BPF programs") }
        let traffic = DemoTraffic.betweenTestHosts
        let ethernet = Array(traffic.udp(destinationPort: 53).prefix(12))
        let frames = [traffic.udp(destinationPort: 53), ethernet + [0x08, 0x00] + [UInt8](repeating: 0x45, count: 10),
                      traffic.icmpEcho(payload: 56), ethernet + [0x86, 0xdd] + [UInt8](repeating: 0x60, count: 20),
                      traffic.tcpSYN(destinationPort: 22)]
        // Which frames the kernel refuses to a TC program that only returns: the oracle.
        var nothing = Assembler()
        nothing.move(.r0, 0)
        nothing.exit()
        let doNothing = try BPFProgram.load(type: .tc, instructions: try nothing.assemble().encoded, name: "xdpfw_nothing")
        let refused = Set(frames.indices.filter { (try? doNothing.testRun(packet: frames[$0])) == nil })
        doNothing.close()
        try XCTSkipIf(refused.isEmpty, "this kernel's skb test run takes short IPv4/IPv6 frames: nothing to report")

        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("xdpfw-refused-\(getpid()).pcap")
        try CaptureFileWriter.pcap(frames).write(to: capture)
        defer { try? FileManager.default.removeItem(at: capture) }
        var verdicts: [String: [String?]] = [:]
        for hook in ["xdp", "tc"] {
            let result = try CommandRunner.run(["test", "rules/example.conf", capture.path, "--json", "--hook", hook])
            XCTAssertEqual(result.status, 0, "\(hook): \(result.standardError)")
            let objects = try result.standardOutput.split(separator: "\n").map {
                try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            guard objects.count == frames.count else {
                XCTFail("\(hook): \(objects.count) lines for \(frames.count) frames")
                continue
            }
            verdicts[hook] = objects.map { $0["verdict"] as? String }
            if hook == "tc" {
                for index in refused {
                    XCTAssertTrue((objects[index]["error"] as? String)?.contains("refuses") == true, "\(objects[index])")
                }
            }
        }
        // XDP runs every frame; TC gives the same verdicts for all but the refused ones.
        let xdp = try XCTUnwrap(verdicts["xdp"], "xdp ran"), tc = try XCTUnwrap(verdicts["tc"], "tc ran")
        XCTAssertFalse(xdp.contains(nil), "\(xdp)")
        XCTAssertEqual(tc, frames.indices.map { refused.contains($0) ? nil : xdp[$0] })

        let text = try CommandRunner.run(["test", "rules/example.conf", capture.path, "--hook", "tc"])
        XCTAssertEqual(text.status, 0, text.standardError)
        XCTAssertTrue(text.standardOutput.contains(" \(refused.count) not run"), text.standardOutput)

        let bench = try CommandRunner.run(["bench", "rules/example.conf", "--hook", "tc", "--packets", capture.path, "--repeat", "10", "--json"])
        XCTAssertEqual(bench.status, 0, bench.standardError)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bench.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["packets"] as? Int, frames.count - refused.count, bench.standardOutput)
        XCTAssertTrue(bench.standardError.contains("skipped \(refused.count) frame"), bench.standardError)
    }
}
