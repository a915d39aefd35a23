import XCTest
import Kernel

final class BPFMapTests: XCTestCase {
    func testPerCPUArrayHoldsOneValuePerPossibleCPU() throws {
        try skipUnlessRoot()
        let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: 4, name: "xdpfw_test_cnt")
        defer { map.close() }
        let cpus = try BPFMap.possibleCPUCount()
        XCTAssertEqual(map.type, .perCPUArray)
        XCTAssertEqual(map.valueSize, 16)
        let zero = try XCTUnwrap(try map.lookupPerCPU(key: BPFMap.key(index: 1)))
        XCTAssertEqual(zero.count, cpus)
        XCTAssertEqual(try map.sumUInt64(key: BPFMap.key(index: 1)), [0, 0])
        // CPU i counts i+1 packets and 100*(i+1) bytes.
        func bytes(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let values: [[UInt8]] = (0..<cpus).map { (cpu: Int) -> [UInt8] in
            bytes(UInt64(cpu + 1)) + bytes(UInt64(100 * (cpu + 1)))
        }
        try map.update(key: BPFMap.key(index: 1), perCPUValues: values)
        let expectedPackets = UInt64(cpus * (cpus + 1) / 2)
        XCTAssertEqual(try map.sumUInt64(key: BPFMap.key(index: 1)), [expectedPackets, 100 * expectedPackets])
        XCTAssertEqual(try map.lookupPerCPU(key: BPFMap.key(index: 1)), values)
        XCTAssertNil(try map.lookupPerCPU(key: BPFMap.key(index: 4)))
    }

    func testHashUpdateLookupDeleteAndKeys() throws {
        try skipUnlessRoot()
        let map = try BPFMap.create(type: .hash, keySize: 4, valueSize: 8, maxEntries: 8, name: "xdpfw_test_hash")
        try map.update(key: [1, 0, 0, 0], value: [1, 2, 3, 4, 5, 6, 7, 8])
        try map.update(key: [2, 0, 0, 0], value: [8, 7, 6, 5, 4, 3, 2, 1])
        XCTAssertEqual(try map.lookup(key: [1, 0, 0, 0]), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(Set(try map.keys()), [[1, 0, 0, 0], [2, 0, 0, 0]])
        XCTAssertThrowsError(try map.update(key: [1, 0, 0, 0], value: [0, 0, 0, 0, 0, 0, 0, 0], mode: .createOnly))
        XCTAssertTrue(try map.delete(key: [1, 0, 0, 0]))
        XCTAssertFalse(try map.delete(key: [1, 0, 0, 0]))
        XCTAssertNil(try map.lookup(key: [1, 0, 0, 0]))
        XCTAssertThrowsError(try map.lookup(key: [1, 0]))  // wrong key size
    }

    func testLPMTrie() throws {
        try skipUnlessRoot()
        let map = try BPFMap.create(type: .lpmTrie, keySize: 8, valueSize: 4, maxEntries: 16, name: "xdpfw_test_lpm")
        try map.update(key: [24, 0, 0, 0, 10, 1, 2, 0], value: [7, 0, 0, 0])
        XCTAssertEqual(try map.lookup(key: [32, 0, 0, 0, 10, 1, 2, 99]), [7, 0, 0, 0])
        XCTAssertNil(try map.lookup(key: [32, 0, 0, 0, 10, 1, 3, 1]))
    }
}

/// BPF_MAP_LOOKUP_BATCH reads give what one lookup per key gives.
final class BPFMapBatchTests: XCTestCase {
    private func bytes(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    func testPerCPUArrayBatchEqualsPerKeyLookups() throws {
        try skipUnlessRoot()
        let entries = 300
        let map = try BPFMap.create(type: .perCPUArray, keySize: 4, valueSize: 16, maxEntries: entries, name: "xdpfw_test_bat")
        defer { map.close() }
        let cpus = try BPFMap.possibleCPUCount()
        // Key k on CPU c counts k*7+c packets and a byte count near the top of UInt64.
        for key in stride(from: 0, to: entries, by: 3) {
            try map.update(key: BPFMap.key(index: UInt32(key)), perCPUValues: (0..<cpus).map { cpu in
                bytes(UInt64(key * 7 + cpu)) + bytes(UInt64.max / 4 - UInt64(key + cpu))
            })
        }
        let batch = try map.lookupBatchPerCPU()
        XCTAssertEqual(batch.count, entries)
        for entry in batch {
            XCTAssertEqual(entry.values, try map.lookupPerCPU(key: entry.key))
        }
        XCTAssertEqual(Set(batch.map(\.key)), Set((0..<entries).map { BPFMap.key(index: UInt32($0)) }))
        let sums = try map.sumUInt64AllIndices()
        XCTAssertEqual(sums.count, entries)
        for index in 0..<entries {
            XCTAssertEqual(sums[index], try map.sumUInt64(key: BPFMap.key(index: UInt32(index))), "index \(index)")
        }
        XCTAssertEqual(try map.sumUInt64AllIndices(word: 0), sums.map { $0[0] })
        XCTAssertEqual(try map.sumUInt64AllIndices(word: 1), sums.map { $0[1] })
        XCTAssertThrowsError(try map.sumUInt64AllIndices(word: 2))
    }

    func testHashBatchEqualsPerKeyLookups() throws {
        try skipUnlessRoot()
        for type in [BPFMapType.hash, .perCPUHash] {
            let map = try BPFMap.create(type: type, keySize: 4, valueSize: 8, maxEntries: 64, name: "xdpfw_test_hbat")
            defer { map.close() }
            XCTAssertTrue(try map.lookupBatchPerCPU().isEmpty, "\(type): empty map")
            for key in 0..<40 { try map.update(key: BPFMap.key(index: UInt32(key * 11)), value: bytes(UInt64(key) << 20)) }
            let batch = try map.lookupBatchPerCPU()
            XCTAssertEqual(batch.count, 40, "\(type)")
            XCTAssertEqual(Set(batch.map(\.key)), Set(try map.keys()), "\(type)")
            for entry in batch { XCTAssertEqual(entry.values, try map.lookupPerCPU(key: entry.key), "\(type)") }
            XCTAssertThrowsError(try map.sumUInt64AllIndices(), "\(type): not an array")
        }
    }
}
