import XCTest
import Foundation
import Kernel

/// `bench` keeps its XDP programs in the kernel's XDP dispatcher (attached natively to veths in a
/// private namespace) so that test runs with repeat > 1 do not wait for an RCU grace period each.
final class XDPDispatcherHoldTests: XCTestCase {
    func testProgramsAreAttachedNativelyWhileHeldAndEverythingGoesAfter() throws {
        try skipUnlessRoot()
        // A namespace left by a killed bench (a process that no longer exists) is deleted.
        var deadPID: Int32 = 4_000_000
        while kill(deadPID, 0) == 0 { deadPID -= 1 }
        let abandoned = "xdpfw-\(deadPID)-bench"
        try IPCommand.run(["netns", "add", abandoned])
        defer { if NetworkNamespace.exists(name: abandoned) { _ = try? IPCommand.run(["netns", "del", abandoned]) } }

        let programs = try [1, 2].map { try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning($0), name: "held\($0)") }
        defer { programs.forEach { $0.close() } }
        let hold = try XDPDispatcherHold(programs: programs)
        defer { hold.close() }
        XCTAssertFalse(NetworkNamespace.exists(name: abandoned), "the abandoned namespace is gone")
        XCTAssertTrue(hold.namespace.hasPrefix("xdpfw-\(getpid())-"))

        // The kernel's view: each program runs natively on a veth of the private namespace.
        let attached = try NetworkNamespace.run(in: hold.namespace) {
            try (0..<2).map { try XDPAttachment.query(try NetworkInterface(name: "hold\($0)")) }
        }
        XCTAssertEqual(attached, try programs.map { XDPStatus(programID: try $0.info().id, mode: .native) })
        for (index, program) in programs.enumerated() {
            let packet = [UInt8](repeating: 0xff, count: 12) + [0x08, 0x00] + [UInt8](repeating: 0, count: 46)
            XCTAssertEqual(try program.testRun(packet: packet, repeat: 100).returnValue, UInt32(index + 1))
        }

        hold.close()
        XCTAssertFalse(NetworkNamespace.exists(name: hold.namespace), "the private namespace is deleted")
        XCTAssertEqual(try IPCommand.run(["netns", "list"]).contains(hold.namespace), false)
    }
}
