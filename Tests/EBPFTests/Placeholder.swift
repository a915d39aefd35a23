import XCTest
final class EBPFTestsPlaceholder: XCTestCase { func testBuilds() {} }
