import XCTest
final class ClassicBPFTestsPlaceholder: XCTestCase { func testBuilds() {} }
