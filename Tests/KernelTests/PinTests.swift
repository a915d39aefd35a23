import XCTest
import Foundation
import EBPF
import Kernel

/// A pin root of the test's own, removed after the test.
func testPinRoot(_ name: String = #function) -> String {
    "\(BPFFileSystem.mountPoint)/xdpfw-test-\(ProcessInfo.processInfo.processIdentifier)-\(name.filter { $0.isLetter })"
}

func removeTree(_ path: String) {
    for entry in BPFFileSystem.entries(of: path) {
        let child = path + "/" + entry
        removeTree(child)
        try? BPFFileSystem.unpin(child)
    }
    try? FileManager.default.removeItem(atPath: path)
}

final class PinTests: XCTestCase {
    func testBPFFileSystemIsMounted() throws {
        try skipUnlessRoot()
        try BPFFileSystem.ensureMounted()
        XCTAssertTrue(BPFFileSystem.isBPFFileSystem())
        XCTAssertFalse(BPFFileSystem.isBPFFileSystem("/tmp"))
    }

    func testMountsBPFFileSystemWhereMissing() throws {
        try skipUnlessRoot()
        let path = NSTemporaryDirectory() + "xdpfw-bpffs-\(ProcessInfo.processInfo.processIdentifier)"
        defer { _ = umount(path); try? FileManager.default.removeItem(atPath: path) }
        XCTAssertFalse(BPFFileSystem.isBPFFileSystem(path))
        XCTAssertTrue(try BPFFileSystem.ensureMounted(at: path))
        XCTAssertTrue(BPFFileSystem.isBPFFileSystem(path))
        XCTAssertFalse(try BPFFileSystem.ensureMounted(at: path), "mounted once only")
    }

    func testPinGetUnpinProgramAndMap() throws {
        try skipUnlessRoot()
        let root = testPinRoot()
        defer { removeTree(root) }
        let directory = PinDirectory(interface: "veth9", hook: .xdp, root: root)
        try directory.create()
        XCTAssertEqual(directory.path, root + "/veth9/xdp")

        let program = try BPFProgram.load(type: .xdp, instructions: TinyProgram.returning(2), name: "pinned")
        try program.pin(at: directory.path(of: PinDirectory.Entry.program))
        let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 2, name: "counters")
        try map.update(key: BPFMap.key(index: 0), value: [UInt8](repeating: 1, count: 16))
        try map.pin(at: directory.path(of: MapName.counters))
        let programID = try program.info().id
        program.close()
        map.close()

        let again = try BPFProgram.fromPinned(directory.path(of: PinDirectory.Entry.program))
        XCTAssertEqual(try again.info().id, programID)
        XCTAssertEqual(again.name, "pinned")
        XCTAssertEqual(try again.testRun(packet: TinyProgram.ethernetFrame).returnValue, 2)
        let mapAgain = try BPFMap.fromPinned(directory.path(of: MapName.counters))
        XCTAssertEqual(mapAgain.type, .perCPUArray)
        XCTAssertEqual(try mapAgain.lookup(key: BPFMap.key(index: 0))?.prefix(16), ArraySlice([UInt8](repeating: 1, count: 16)))
        XCTAssertEqual(PinDirectory.all(root: root), [directory])
        XCTAssertEqual(directory.entries, ["counters", "program"])

        try directory.remove()
        XCTAssertFalse(directory.exists)
        XCTAssertEqual(PinDirectory.all(root: root), [])
        XCTAssertThrowsError(try BPFProgram.fromPinned(directory.path(of: PinDirectory.Entry.program))) { error in
            XCTAssertEqual(error as? KernelError, .notFound(path: directory.path(of: PinDirectory.Entry.program)))
        }
    }

    func testPinnedTextRoundTripsAndReplaces() throws {
        try skipUnlessRoot()
        let root = testPinRoot()
        defer { removeTree(root) }
        let directory = PinDirectory(interface: "eth0.100", hook: .tcIngress, root: root)
        try directory.create()
        let path = directory.path(of: PinDirectory.Entry.ruleset)
        let long = (1...2000).map { "drop udp port \($0) # ünïcode\n" }.joined()
        try PinnedText.write(long, at: path)
        XCTAssertEqual(try PinnedText.read(at: path), long)
        try PinnedText.write("policy drop\n", at: path)
        XCTAssertEqual(try PinnedText.read(at: path), "policy drop\n")
        try PinnedText.write("", at: path)
        XCTAssertEqual(try PinnedText.read(at: path), "")

        try directory.writeRecord(["clsact": "created", "handle": "1"])
        XCTAssertEqual(try directory.record(), ["clsact": "created", "handle": "1"])
        XCTAssertEqual(directory.entries, ["attachment", "ruleset"])
        XCTAssertEqual(PinDirectory.all(root: root), [directory])
    }

    /// A namespace's pin root escapes '.' (which bpffs refuses) as interface names do, and
    /// removeIfEmpty removes only empty directories, never their contents.
    func testNamespaceRootAndRemoveIfEmpty() throws {
        XCTAssertEqual(PinDirectory.root(forNamespace: "ns.1%"), PinDirectory.defaultRoot + "/netns/ns%2E1%25")
        try skipUnlessRoot()
        let root = testPinRoot()
        defer { removeTree(root) }
        try BPFFileSystem.makeDirectory(root)
        try PinnedText.write("kept\n", at: root + "/text")
        try PinDirectory.removeIfEmpty(root)
        XCTAssertTrue(BPFFileSystem.exists(root + "/text"), "a directory with entries stays")
        try BPFFileSystem.unpin(root + "/text")
        try PinDirectory.removeIfEmpty(root)
        XCTAssertFalse(BPFFileSystem.exists(root))
        try PinDirectory.removeIfEmpty(root)
    }

    func testUnknownInterface() {
        XCTAssertThrowsError(try NetworkInterface(name: "no-such-if0")) { error in
            XCTAssertEqual(error as? KernelError, .unknownInterface("no-such-if0"))
            XCTAssertTrue("\(error)".contains("unknown interface 'no-such-if0'"))
        }
        XCTAssertEqual(try NetworkInterface(name: "lo").index, 1)
        XCTAssertEqual(try NetworkInterface(index: 1).name, "lo")
    }
}
