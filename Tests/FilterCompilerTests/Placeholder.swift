import XCTest
final class FilterCompilerTestsPlaceholder: XCTestCase { func testBuilds() {} }
