import XCTest
final class KernelTestsPlaceholder: XCTestCase { func testBuilds() {} }
